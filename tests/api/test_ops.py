"""What the people who run marque rely on: probes, metrics, request ids, JSON logs, error shape.

All against a real `marque serve` process over HTTP.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Database, LiveServer, free_port, start_server

PROBLEM_JSON = "application/problem+json"
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_healthz_says_the_process_is_alive(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_names_the_database_engine_it_reached(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": live_server.database.name}


@pytest.fixture(scope="module")
def server_without_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose PostgreSQL URL points at a port where nothing listens."""
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/marque?connect_timeout=3"
    server = start_server(
        Database("postgresql", nowhere), tmp_path_factory.mktemp("unready"), ready_path="/healthz"
    )
    yield server
    server.stop()


def test_readyz_is_a_503_problem_while_the_database_is_unreachable(
    server_without_database: LiveServer,
) -> None:
    with server_without_database.client() as client:
        alive = client.get("/healthz")
        ready = client.get("/readyz", headers={"Accept-Language": "zh-CN"})

    assert alive.status_code == 200, "liveness must not depend on the database"
    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith(PROBLEM_JSON)
    assert ready.headers["retry-after"] == "5"
    body = ready.json()
    assert body["code"] == "ops.database_unreachable"
    assert CJK.search(body["detail"]), body["detail"]
    assert "psycopg" not in ready.text, "no driver details leak"
    assert "127.0.0.1" not in ready.text, "no connection details leak"


def test_metrics_count_requests_by_route_template_method_and_status(
    live_server: LiveServer,
) -> None:
    with live_server.client() as client:
        client.get("/healthz")
        client.get(f"/no-such-page-{uuid.uuid4().hex}")
        response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert re.search(
        r'^marque_http_requests_total\{method="GET",route="/healthz",status="200"\} [1-9]',
        text,
        re.MULTILINE,
    ), text
    # Unmatched paths share one label so that scanners cannot blow up the series count.
    assert re.search(r'route="unmatched",status="404"', text), text
    assert "marque_http_request_duration_seconds_bucket" in text


def test_a_request_id_sent_by_the_caller_is_echoed(live_server: LiveServer) -> None:
    request_id = f"test-{uuid.uuid4().hex}"
    with live_server.client() as client:
        response = client.get("/healthz", headers={"X-Request-ID": request_id})

    assert response.headers["x-request-id"] == request_id


def test_a_request_id_is_made_up_when_the_caller_sends_none_or_garbage(
    live_server: LiveServer,
) -> None:
    with live_server.client() as client:
        plain = client.get("/healthz")
        oversized = client.get("/healthz", headers={"X-Request-ID": "x" * 500})

    assert re.fullmatch(r"[0-9a-f]{32}", plain.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", oversized.headers["x-request-id"])


def test_every_log_line_is_json_and_a_request_logs_its_id(live_server: LiveServer) -> None:
    request_id = f"log-{uuid.uuid4().hex}"
    with live_server.client() as client:
        client.get("/readyz", headers={"X-Request-ID": request_id})

    entries = _wait_for_log_entry(live_server.log_path, request_id)

    mine = [entry for entry in entries if entry.get("request_id") == request_id]
    assert any(entry["logger"] == "marque.access" for entry in mine)
    access = next(entry for entry in mine if entry["logger"] == "marque.access")
    assert access["status"] == 200
    assert access["route"] == "/readyz"
    assert {"ts", "level", "msg"} <= set(access)


def _wait_for_log_entry(log_path: Path, request_id: str) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in log_path.read_text(errors="replace").splitlines() if line]
        entries = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except ValueError:
                pytest.fail(f"log line is not JSON: {line!r}")
        if any(entry.get("request_id") == request_id for entry in entries):
            return entries
        if time.monotonic() > deadline:
            pytest.fail(f"no log line carries request id {request_id}")
        time.sleep(0.1)


def test_an_unknown_api_route_is_a_404_problem(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["code"] == "request.route_not_found"
    assert body["status"] == 404
    assert body["instance"] == "/api/v1/no-such-thing"
    assert body["request_id"] == response.headers["x-request-id"]


def test_a_method_the_route_does_not_accept_is_a_405_problem(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.delete("/healthz")

    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["code"] == "request.method_not_allowed"
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5, zh;q=0.7", "zh-CN"),
        ("de-DE", "en"),  # nothing we speak: the server's default (en for test servers)
    ],
)
def test_content_language_follows_accept_language(
    live_server: LiveServer, accept_language: str, expected: str
) -> None:
    with live_server.client() as client:
        ok = client.get("/healthz", headers={"Accept-Language": accept_language})
        problem = client.get("/api/v1/no-such-thing", headers={"Accept-Language": accept_language})

    assert ok.headers["content-language"] == expected
    assert problem.headers["content-language"] == expected


def test_lang_query_parameter_beats_accept_language(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.get("/api/v1/no-such-thing?lang=zh-CN", headers={"Accept-Language": "en"})

    assert response.headers["content-language"] == "zh-CN"
    assert CJK.search(response.json()["detail"])


def test_problem_detail_and_title_are_in_the_callers_language(live_server: LiveServer) -> None:
    with live_server.client() as client:
        chinese = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "zh-CN"}).json()
        english = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en"}).json()

    assert chinese["code"] == english["code"] == "request.route_not_found"
    assert chinese["detail"] != english["detail"]
    assert CJK.search(chinese["detail"])
    assert CJK.search(chinese["title"])
    assert english["detail"] == "There is nothing at this address."
