"""Schemathesis against a real server: no input makes it fail, and every error is a problem.

For every operation in /openapi.json, Schemathesis generates requests that fit the schema
(positive) and requests that break it (negative); the server must answer none of them with a
5xx, and every 4xx must be application/problem+json with a stable ``code``. Examples per
operation and mode are bounded by MARQUE_FUZZ_EXAMPLES (default 50). Generation is
derandomized so that a CI run is reproducible; MARQUE_FUZZ_RANDOM=1 explores new inputs
on each run when hunting locally.

The server runs on its own freshly seeded database so that the rate limits and lockouts the
random sign-in attempts trip do not reach the other tests' shared server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import conftest
import pytest
import schemathesis
from conftest import PG_URL, Database, LiveServer, start_server
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from sqlalchemy import create_engine

from marque.adapters.db import migrate as migrations
from marque.bootstrap import bootstrap

EXAMPLES = int(os.environ.get("MARQUE_FUZZ_EXAMPLES", "50"))
DERANDOMIZE = os.environ.get("MARQUE_FUZZ_RANDOM") != "1"
PROBLEM_JSON = "application/problem+json"

pytestmark = pytest.mark.slow


def _own_database(engine_name: str, folder: Path) -> Iterator[Database]:
    if engine_name == "sqlite":
        yield Database("sqlite", f"sqlite:///{folder / 'fuzz.db'}")
        return
    assert PG_URL
    url, name = conftest._fresh_postgres(PG_URL)
    try:
        yield Database("postgresql", url)
    finally:
        conftest._drop_postgres(PG_URL, name)


@pytest.fixture(scope="module")
def fuzz_server(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    from marque.services.demo_catalog import seed_demo_catalog

    folder = tmp_path_factory.mktemp("fuzz")
    for own in _own_database(database.name, folder):
        engine = create_engine(own.url)
        migrations.upgrade(engine)
        engine.dispose()
        container = bootstrap(conftest.test_settings(own.url))
        seed_demo_catalog(container.uow(), container.clock())
        container.close()
        server = start_server(own, folder)
        try:
            yield server
        finally:
            server.stop()


def what_is_wrong(status: int, headers: dict[str, list[str]], content: bytes) -> str:
    """Empty when the answer is acceptable, else a description of what is wrong with it."""
    if status >= 500:
        return f"server error {status}: {content[:500]!r}"
    if status < 400:
        return ""
    content_type = (headers.get("content-type") or [""])[0]
    if not content_type.startswith(PROBLEM_JSON):
        return f"{status} answered as {content_type!r}, not problem+json"
    try:
        body = json.loads(content)
    except ValueError:
        return f"{status} problem+json body is not JSON: {content[:200]!r}"
    if not isinstance(body, dict) or not body.get("code"):
        return f"{status} problem without a code: {body!r}"
    if body.get("status") != status:
        return f"problem status {body.get('status')} differs from HTTP status {status}"
    return ""


def fuzz(operation: APIOperation, mode: GenerationMode, base_url: str) -> tuple[int, list[str]]:
    """Send up to EXAMPLES generated requests; return how many were sent and what went wrong."""
    sent = 0
    wrong_answers: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=DERANDOMIZE,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Case) -> None:
        nonlocal sent
        response = case.call(base_url=base_url, timeout=30)
        sent += 1
        wrong = what_is_wrong(response.status_code, response.headers, response.content)
        if wrong and len(wrong_answers) < 3:
            wrong_answers.append(f"{wrong}\n      reproduce: {case.as_curl_command()}")

    try:
        send()
    except Unsatisfiable:
        # Nothing to break: an operation without parameters or body has no negative case.
        if mode is GenerationMode.POSITIVE:
            raise
    return sent, wrong_answers


def test_no_generated_request_gets_a_server_error_or_a_non_problem_error(
    fuzz_server: LiveServer,
) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json", timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operation"
    failures: list[str] = []
    calls = 0

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent, wrong_answers = fuzz(operation, mode, fuzz_server.base_url)
            calls += sent
            failures += [f"{operation.label} [{mode}]: {wrong}" for wrong in wrong_answers]

    assert calls >= len(operations), "schemathesis sent fewer requests than there are operations"
    assert not failures, f"{len(failures)} bad answer(s):\n  " + "\n  ".join(failures)
