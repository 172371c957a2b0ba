// Counts down to each [data-opens-at] time on the page (see templates/_opening.html).
// The server already printed the opening time; this only adds "Opens in 2 d 3 h 4 min 5 s"
// and, once the time has come, says that sales are open and sends a "marque:opened" event
// (it bubbles) so that the page can turn on what waited for the opening.
(function () {
  "use strict";
  function parts(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    return [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60];
  }
  function render(element) {
    var target = Date.parse(element.getAttribute("data-opens-at"));
    var out = element.querySelector(".countdown");
    if (isNaN(target) || !out) return false;
    var left = target - Date.now();
    if (left <= 0) {
      out.textContent = element.getAttribute("data-open-text");
      element.dispatchEvent(new CustomEvent("marque:opened", { bubbles: true }));
      return false;
    }
    var units = element.getAttribute("data-units").split(",");
    var values = parts(left);
    var text = [];
    for (var i = 0; i < values.length; i++) {
      if (values[i] > 0 || text.length || i === values.length - 1) {
        text.push(values[i] + " " + units[i]);
      }
    }
    out.textContent = element.getAttribute("data-countdown").replace("{time}", text.join(" "));
    return true;
  }
  function start() {
    var elements = Array.prototype.slice.call(document.querySelectorAll("[data-opens-at]"));
    function tick() {
      elements = elements.filter(render);
      if (elements.length) window.setTimeout(tick, 1000 - (Date.now() % 1000));
    }
    tick();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
