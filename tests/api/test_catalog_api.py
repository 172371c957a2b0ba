"""The catalogue and configurator over real HTTP against a `marque serve` process."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import LiveServer

PROBLEM_JSON = "application/problem+json"
CNY = "CNY"
ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def get(server: LiveServer, path: str, headers: dict[str, str] | None = None) -> Any:
    with server.client() as client:
        response = client.get(path, headers=headers or EN)
    assert response.status_code == 200, response.text
    return response.json()


def post(server: LiveServer, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    with server.client() as client:
        return client.post("/api/v1/configurations", json=body, headers=headers or EN)


def test_list_models_shows_both_demo_models_with_a_from_price(live_server: LiveServer) -> None:
    items = {item["code"]: item for item in get(live_server, "/api/v1/models")["items"]}

    assert items["arc"]["name"] == "Lumen Arc"
    assert items["arc"]["body_type"] == "sedan"
    assert items["arc"]["from_price"] == {"amount": 21_590_000, "currency": CNY}
    assert items["vista"]["body_type"] == "suv"
    assert items["vista"]["on_sale_at"].startswith("2026-06-26T14:00:00")


def test_list_models_speaks_chinese_when_asked(live_server: LiveServer) -> None:
    items = {item["code"]: item for item in get(live_server, "/api/v1/models", ZH)["items"]}

    assert items["arc"]["name"] == "曜 Arc"
    assert items["vista"]["tagline"] == "六座空间，一家人的远方。"


def test_model_detail_has_trims_groups_rules_and_terms(live_server: LiveServer) -> None:
    arc = get(live_server, "/api/v1/models/arc")

    assert arc["currency"] == CNY
    assert arc["price_book"]["code"] == "arc-2026-09"
    trims = {trim["code"]: trim for trim in arc["trims"]}
    founders = trims["founders"]
    assert (founders["limited_edition"], founders["unit_cap"]) == (True, 5_000)
    assert founders["base_price"] == {"amount": 29_990_000, "currency": CNY}
    assert founders["deposit_terms"]["kind"] == "earnest"
    assert founders["deposit_terms"]["amount"] == {"amount": 2_000_000, "currency": CNY}
    assert trims["standard"]["deposit_terms"]["code"] == "arc-earnest"
    assert [g["code"] for g in arc["option_groups"]] == [
        "paint",
        "wheels",
        "interior",
        "brake_callipers",
        "packs",
    ]
    assert sum(len(g["options"]) for g in arc["option_groups"]) == 20
    assert {rule["kind"] for rule in arc["rules"]} == {"requires", "excludes", "only_with_trim"}
    terms = arc["deposit_terms"]
    assert terms["kind"] == "earnest"
    assert re.fullmatch(r"[0-9a-f]{64}", terms["content_hash"])
    assert "NOT refundable" in terms["body"]
    assert terms["rules"]["auto_lock_after_hours"] == 168


def test_model_detail_explains_rules_and_terms_in_chinese(live_server: LiveServer) -> None:
    arc = get(live_server, "/api/v1/models/arc", ZH)

    rules = {rule["code"]: rule for rule in arc["rules"]}
    assert rules["red-callipers-need-forged-wheels"]["message"] == (
        "红色性能卡钳需要搭配21英寸锻造性能轮毂。"
    )
    assert "不予退还" in arc["deposit_terms"]["body"]
    english = get(live_server, "/api/v1/models/arc")
    assert arc["deposit_terms"]["content_hash"] == english["deposit_terms"]["content_hash"]


def test_configure_a_founders_edition_then_again_in_another_order(live_server: LiveServer) -> None:
    chosen = ["paint-aurora-green", "wheels-21-forged", "callipers-red", "pack-track"]

    first = post(live_server, {"model": "vista", "trim": "founders", "options": chosen})
    second = post(
        live_server, {"model": "vista", "trim": "founders", "options": list(reversed(chosen))}
    )

    assert first.status_code in (200, 201)
    assert second.status_code == 200
    body = first.json()
    assert re.fullmatch(r"CFG-[A-Z2-7]{10}", body["code"])
    assert second.json()["code"] == body["code"]
    assert body["base_price"] == {"amount": 32_990_000, "currency": CNY}
    assert body["options_price"] == {
        "amount": (15_000 + 18_000 + 3_000 + 12_000) * 100,
        "currency": CNY,
    }
    assert (
        body["total_price"]["amount"]
        == body["base_price"]["amount"] + body["options_price"]["amount"]
    )
    assert body["deposit_terms"]["code"] == "founders-earnest"
    assert body["price_book"] == "vista-2026-09"
    options = {option["code"]: option for option in body["options"]}
    assert options["interior-obsidian"]["group"] == "interior"  # a default filled in
    assert options["paint-aurora-green"]["name"] == "Aurora Green"


def test_a_configuration_reads_back_by_code_in_the_callers_language(
    live_server: LiveServer,
) -> None:
    created = post(live_server, {"model": "arc", "trim": "founders", "options": ["pack-sound"]})
    code = created.json()["code"]

    again = get(live_server, f"/api/v1/configurations/{code}", ZH)

    assert again["code"] == code
    assert again["total_price"] == created.json()["total_price"]
    assert {option["name"] for option in again["options"]} >= {"臻享音响包"}


def test_a_rule_breaking_configuration_lists_every_violation(live_server: LiveServer) -> None:
    chosen = [
        "paint-aurora-green",  # founders only
        "paint-pearl-white",  # a second paint, and it excludes the ivory interior
        "interior-ivory",
        "callipers-red",  # needs the forged wheels
        "wheels-21-forged",  # performance trims only
        "flux-capacitor",  # no such option
    ]

    response = post(live_server, {"model": "arc", "trim": "standard", "options": chosen})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["code"] == "catalog.configuration_invalid"
    assert problem["detail"] == f"This configuration breaks {len(problem['errors'])} rule(s)."
    by_code: dict[str, list[dict[str, Any]]] = {}
    for error in problem["errors"]:
        by_code.setdefault(error["code"], []).append(error)
    assert set(by_code) == {
        "catalog.unknown_option",
        "catalog.group_at_most_one",
        "catalog.option_trim_only",
        "catalog.option_excludes",
    }
    assert len(by_code["catalog.option_trim_only"]) == 2
    assert by_code["catalog.unknown_option"][0]["pointer"] == "/options/5"
    assert by_code["catalog.unknown_option"][0]["params"]["option"] == "flux-capacitor"
    excludes = by_code["catalog.option_excludes"][0]["message"]
    assert (
        excludes == "Pearl White cannot be combined with Ivory White interior; remove one of them."
    )


def test_requires_and_unknown_trim_are_reported_too(live_server: LiveServer) -> None:
    requires = post(live_server, {"model": "arc", "trim": "standard", "options": ["callipers-red"]})
    trim = post(live_server, {"model": "arc", "trim": "warp", "options": ["hover-kit"]})

    assert [e["code"] for e in requires.json()["errors"]] == ["catalog.option_requires"]
    assert [e["code"] for e in trim.json()["errors"]] == [
        "catalog.unknown_trim",
        "catalog.unknown_option",
    ]
    assert trim.json()["errors"][0]["pointer"] == "/trim"


def test_violations_are_explained_in_chinese(live_server: LiveServer) -> None:
    response = post(
        live_server,
        {"model": "arc", "trim": "standard", "options": ["paint-aurora-green", "callipers-red"]},
        ZH,
    )

    problem = response.json()
    assert problem["detail"] == "此配置不符合2条规则。"
    assert [e["message"] for e in problem["errors"]] == [
        "极光绿仅适用于创始版，标准版 后驱不可选。",
        "红色性能卡钳需要搭配21英寸锻造性能轮毂；请加选，或取消红色性能卡钳。",
    ]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/models/roadster", "catalog.unknown_model"),
        ("/api/v1/configurations/CFG-AAAAAAAAAA", "catalog.unknown_configuration"),
    ],
)
def test_unknown_things_are_a_404_problem_in_both_languages(
    live_server: LiveServer, path: str, code: str
) -> None:
    with live_server.client() as client:
        english = client.get(path, headers=EN)
        chinese = client.get(path, headers=ZH)

    for response in (english, chinese):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert response.json()["code"] == code
    assert english.json()["detail"].startswith("There is no")
    assert chinese.json()["detail"].startswith("没有")


def test_configuring_an_unknown_model_is_a_404_problem(live_server: LiveServer) -> None:
    response = post(live_server, {"model": "roadster", "trim": "base", "options": []}, ZH)

    assert response.status_code == 404
    assert response.json()["code"] == "catalog.unknown_model"
    assert response.json()["detail"] == "没有车型“roadster”。"


def test_a_malformed_configuration_request_is_a_422_problem(live_server: LiveServer) -> None:
    response = post(live_server, {"model": "arc", "options": "paint-graphite"})

    assert response.status_code == 422
    assert response.json()["code"] == "request.invalid"
    assert {e["pointer"] for e in response.json()["errors"]} >= {"/body/trim", "/body/options"}
