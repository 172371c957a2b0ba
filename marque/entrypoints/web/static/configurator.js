/* The live configurator: marks unavailable options with their reason (from the model's
   rules, the same logic the server uses for the no-JS page) and asks the API for the price
   on every change. Every string it shows comes from the server, already translated. */
(function () {
  "use strict";

  var form = document.getElementById("configurator-form");
  var dataNode = document.getElementById("configurator-data");
  if (!form || !dataNode) { return; }
  var data = JSON.parse(dataNode.textContent);

  function byId(id) { return document.getElementById(id); }

  function formatMoney(money) {
    var per = data.minor_units[money.currency] || 100;
    var sign = money.amount < 0 ? "-" : "";
    var abs = Math.abs(money.amount);
    var major = Math.floor(abs / per);
    var minor = abs % per;
    var text = (data.symbols[money.currency] || money.currency + " ") +
      major.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    if (minor) { text += "." + (minor < 10 ? "0" : "") + minor; }
    return sign + text;
  }

  function currentChoice() {
    var trimInput = form.querySelector('input[name="trim"]:checked');
    var options = [];
    form.querySelectorAll('input[name^="opt_"]:checked').forEach(function (input) {
      if (input.value) { options.push(input.value); }
    });
    return { trim: trimInput ? trimInput.value : null, options: options };
  }

  /* option code -> {messages: [...], problem: bool}; mirrors availability.py */
  function explain(trim, chosen) {
    var result = {};
    function add(code, message, problem) {
      var entry = result[code] || (result[code] = { messages: [], problem: false });
      if (entry.messages.indexOf(message) < 0) { entry.messages.push(message); }
      entry.problem = entry.problem || problem;
    }
    data.rules.forEach(function (rule) {
      var picked = chosen.indexOf(rule.option) >= 0;
      if (rule.kind === "only_with_trim") {
        if (rule.targets.indexOf(trim) < 0) { add(rule.option, rule.message, picked); }
      } else if (rule.kind === "excludes") {
        var hit = rule.targets.filter(function (t) { return chosen.indexOf(t) >= 0; });
        if (hit.length) { add(rule.option, rule.message, picked); }
        if (picked) {
          rule.targets.forEach(function (t) { add(t, rule.message, chosen.indexOf(t) >= 0); });
        }
      } else if (rule.kind === "requires") {
        var met = rule.targets.some(function (t) { return chosen.indexOf(t) >= 0; });
        if (picked && !met) { add(rule.option, rule.message, true); }
      }
    });
    return result;
  }

  function showAvailability(choice) {
    var reasons = explain(choice.trim, choice.options);
    form.querySelectorAll("li[data-option]").forEach(function (item) {
      var code = item.getAttribute("data-option");
      var input = item.querySelector("input");
      var note = byId("reason-" + code);
      var entry = reasons[code];
      var selected = input.checked;
      input.disabled = Boolean(entry) && !selected;
      item.classList.toggle("unavailable", Boolean(entry) && !selected);
      item.classList.toggle("problem", Boolean(entry) && entry.problem && selected);
      note.textContent = entry ? entry.messages.join(" ") : "";
      note.hidden = !entry;
    });
  }

  function showTerms(trim) {
    var terms = data.terms[trim];
    if (!terms) { return; }
    byId("terms-kind").textContent = terms.kind_label;
    byId("terms-amount").textContent = formatMoney(terms.amount);
    byId("terms-explanation").textContent = terms.kind_explanation;
    byId("terms-doc-title").textContent = terms.title;
    byId("terms-body").textContent = terms.body;
    byId("terms-hash").textContent = terms.content_hash;
    var otherTitle = byId("terms-other-title");
    var otherBody = byId("terms-other-body");
    if (otherTitle && otherBody) {
      otherTitle.textContent = terms.other_title;
      otherBody.textContent = terms.other_body;
    }
  }

  /* The Reserve button waits for the chosen trim's opening (the server rendered it so for
     the trim it chose); here it follows the buyer's choice and the countdown. */
  function showOpening(trim) {
    var button = byId("reserve-button");
    if (!button) { return; }
    var waiting = null;
    document.querySelectorAll(".reserve-closed[data-trim]").forEach(function (note) {
      var clock = note.querySelector("[data-opens-at]");
      var opensAt = clock ? Date.parse(clock.getAttribute("data-opens-at")) : NaN;
      var closed = note.getAttribute("data-trim") === trim && opensAt > Date.now();
      note.hidden = !closed;
      if (closed) { waiting = note; }
    });
    button.disabled = Boolean(waiting);
    if (waiting) {
      button.setAttribute("aria-describedby", waiting.id);
    } else {
      button.removeAttribute("aria-describedby");
    }
  }

  function setViolations(messages) {
    var list = byId("violations");
    list.textContent = "";
    messages.forEach(function (message) {
      var li = document.createElement("li");
      li.textContent = message;
      list.appendChild(li);
    });
  }

  function showPrice(body) {
    byId("total-price").textContent = formatMoney(body.total_price);
    byId("total-price-bar").textContent = formatMoney(body.total_price);
    byId("base-price").textContent = formatMoney(body.base_price);
    byId("options-price").textContent = formatMoney(body.options_price);
    byId("config-code").textContent = body.code;
    setViolations([]);
  }

  function showProblem(body) {
    byId("total-price").textContent = "—";
    byId("total-price-bar").textContent = "—";
    byId("base-price").textContent = "—";
    byId("options-price").textContent = "—";
    byId("config-code").textContent = "—";
    var messages = (body.errors || []).map(function (e) { return e.message; });
    if (!messages.length && body.detail) { messages = [body.detail]; }
    setViolations(messages);
  }

  var sequence = 0;
  var timer = null;

  function requestPrice() {
    var mine = ++sequence;
    var choice = currentChoice();
    byId("status-line").textContent = data.strings.updating;
    fetch(data.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json, application/problem+json",
        "Accept-Language": data.locale
      },
      body: JSON.stringify({ model: data.model, trim: choice.trim, options: choice.options })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (mine !== sequence) { return; }
      if (result.ok) { showPrice(result.body); } else { showProblem(result.body); }
      byId("status-line").textContent = result.ok ? data.strings.updated : data.strings.not_valid;
    }).catch(function () {
      if (mine === sequence) { byId("status-line").textContent = data.strings.network_error; }
    });
  }

  /* Keep the address and the language switch on the current choice, so that a reload,
     a shared link or a change of language shows the same configuration. */
  function rememberChoiceInLinks() {
    var base = form.getAttribute("action");
    var query = new URLSearchParams(new FormData(form)).toString();
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", base + "?" + query);
    }
    document.querySelectorAll(".lang-switch a[hreflang]").forEach(function (link) {
      var lang = "lang=" + encodeURIComponent(link.getAttribute("hreflang"));
      link.setAttribute("href", base + "?" + (query ? query + "&" : "") + lang);
    });
  }

  function onChange() {
    var choice = currentChoice();
    showAvailability(choice);
    showTerms(choice.trim);
    showOpening(choice.trim);
    rememberChoiceInLinks();
    window.clearTimeout(timer);
    timer = window.setTimeout(requestPrice, 120);
  }

  form.addEventListener("change", onChange);
  form.addEventListener("submit", function (event) {
    /* A button with its own formaction (Reserve) leaves the page with the choices. */
    if (event.submitter && event.submitter.hasAttribute("formaction")) { return; }
    event.preventDefault(); onChange();
  });
  document.addEventListener("marque:opened", function () { showOpening(currentChoice().trim); });
  showAvailability(currentChoice());
  showOpening(currentChoice().trim);
})();
