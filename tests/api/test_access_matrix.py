"""Every API route admits exactly the callers tests/api/access_policy.py declares.

The route list comes from the live server's /openapi.json, so a new route is checked the moment
it exists: without a policy entry the first test fails. Each route is then called as an
anonymous caller, customer A, customer B and one staff member per role, all signed in through
the real sign-in APIs. Allowed callers must not be refused (no 401/403, no 5xx); refused ones
must get 401 (anonymous) or 403 (signed in, wrong kind or role) as problem+json; on a
customer-owned resource, customer B gets 404 for customer A's resource.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import conftest
import httpx
import pytest
from access_policy import AUTO, POLICY, Access
from conftest import LiveServer, random_phone

from marque.bootstrap import bootstrap
from marque.domain.identity import Role
from marque.services.auth import create_staff

PROBLEM_JSON = "application/problem+json"
METHODS = ("get", "post", "put", "patch", "delete")

#: Makers of customer-owned resources: called with a client signed in as customer A, they
#: create one resource and return the path parameters that address it.
OWNED_RESOURCES: dict[str, Callable[[httpx.Client], dict[str, str]]] = {}


_ORDERS: dict[str, dict[str, str]] = {}


def _make_order(client: httpx.Client) -> dict[str, str]:
    """Customer A's one order, reserved once: every order route is called without an
    Idempotency-Key or as a read, so none changes it (and fair-sale limits stay clear)."""
    caller = client.headers.get("Authorization", "")
    if caller not in _ORDERS:
        _ORDERS[caller] = _reserve_order(client)
    return _ORDERS[caller]


def _reserve_order(client: httpx.Client) -> dict[str, str]:
    model = client.get("/api/v1/models").json()["items"][0]["code"]
    detail = client.get(f"/api/v1/models/{model}").json()
    defaults = [g["default_option"] for g in detail["option_groups"] if g.get("default_option")]
    trim = detail["trims"][0]
    configured = client.post(
        "/api/v1/configurations", json={"model": model, "trim": trim["code"], "options": defaults}
    ).json()
    terms = configured["deposit_terms"]
    reserved = client.post(
        "/api/v1/orders",
        json={
            "configuration_code": configured["code"],
            "terms_code": terms["code"],
            "terms_version": terms["version"],
            "terms_hash": terms["content_hash"],
            "accept_terms": True,
        },
        headers={"Idempotency-Key": secrets.token_hex(12)},
    )
    assert reserved.status_code == 201, reserved.text
    return {"order_id": str(reserved.json()["id"])}


OWNED_RESOURCES["order"] = _make_order


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    role: Role | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.name == "anonymous"

    @property
    def is_customer(self) -> bool:
        return self.name.startswith("customer")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)


@pytest.fixture(scope="module")
def openapi(live_server: LiveServer) -> dict[str, Any]:
    with live_server.client() as client:
        response = client.get("/openapi.json")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def routes_of(document: dict[str, Any]) -> list[Route]:
    return [
        Route(method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_route_has_a_policy_entry_and_every_entry_a_route(openapi: dict[str, Any]) -> None:
    routes = {route.key for route in routes_of(openapi)}

    unlisted = sorted(routes - POLICY.keys())
    stale = sorted(POLICY.keys() - routes)

    assert not unlisted, f"routes without an entry in tests/api/access_policy.py: {unlisted}"
    assert not stale, f"entries in tests/api/access_policy.py for routes that do not exist: {stale}"


# --- signing callers in through the real APIs ------------------------------------------------


def sign_in_customer(client: httpx.Client) -> str:
    phone = random_phone()
    sent = client.post("/api/v1/auth/sms-code", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    inbox = client.get("/api/v1/sandbox/sms", params={"phone": phone})
    assert inbox.status_code == 200, inbox.text
    code = inbox.json()["items"][0]["code"]
    login = client.post("/api/v1/auth/login", json={"phone": phone, "code": code})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def sign_in_staff(client: httpx.Client, live_server: LiveServer, role: Role) -> str:
    username = f"matrix-{role.replace('_', '-')}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    container = bootstrap(conftest.test_settings(live_server.database.url))
    try:
        create_staff(
            container.uow(),
            username=username,
            password=password,
            roles=[role],
            display_name=f"Matrix {role}",
            now=datetime.now(UTC),
        )
    finally:
        container.close()
    login = client.post(
        "/api/v1/auth/staff/login", json={"username": username, "password": password}
    )
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


@pytest.fixture(scope="module")
def callers(live_server: LiveServer) -> list[Caller]:
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    with live_server.client() as client:
        signed_in = [
            Caller("anonymous", {}),
            Caller("customer A", bearer(sign_in_customer(client))),
            Caller("customer B", bearer(sign_in_customer(client))),
        ]
        signed_in += [
            Caller(f"staff {role}", bearer(sign_in_staff(client, live_server, role)), role)
            for role in Role
        ]
    return signed_in


# --- building a request for any route --------------------------------------------------------


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def example_of(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """A small value that satisfies ``schema``: required fields only, schema examples first."""
    schema = resolve(schema, document)
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            choices = [s for s in schema[key] if resolve(s, document).get("type") != "null"]
            return example_of(choices[0] if choices else schema[key][0], document)
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_of(properties[name], document) for name in schema.get("required", [])}
    if kind == "array":
        return [example_of(schema.get("items", {}), document)] * int(schema.get("minItems", 0))
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return max(float(schema.get("minimum", 1)), 1.0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat()
    return "x" * max(int(schema.get("minLength", 1)), 1)


@pytest.fixture(scope="module")
def demo_values(live_server: LiveServer) -> dict[str, str]:
    """Real codes from the demo catalogue for path parameters that name one."""
    values = {"model": "no-such-model", "configuration": "CFG-0000000000"}
    with live_server.client() as client:
        models = client.get("/api/v1/models")
        if models.status_code == 200 and models.json().get("items"):
            values["model"] = models.json()["items"][0]["code"]
            configured = _configure_cheapest(client, values["model"])
            if configured:
                values["configuration"] = configured
    return values


def _configure_cheapest(client: httpx.Client, model: str) -> str | None:
    detail = client.get(f"/api/v1/models/{model}")
    if detail.status_code != 200:
        return None
    body = detail.json()
    options = [
        group["default_option"]
        for group in body.get("option_groups", [])
        if group.get("selection") == "one" and group.get("default_option")
    ]
    created = client.post(
        "/api/v1/configurations",
        json={"model": model, "trim": body["trims"][0]["code"], "options": options},
    )
    return str(created.json()["code"]) if created.status_code in (200, 201) else None


def path_value(route: Route, name: str, demo: dict[str, str]) -> str:
    if "model" in name:
        return demo["model"]
    if "configuration" in name or "/configurations/" in route.path:
        return demo["configuration"]
    return "x"


def build_request(
    route: Route,
    access: Access,
    document: dict[str, Any],
    demo: dict[str, str],
    owned: dict[str, str],
) -> dict[str, Any]:
    path_params: dict[str, str] = {}
    query: dict[str, Any] = {}
    for parameter in route.operation.get("parameters", []):
        parameter = resolve(parameter, document)
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            path_params[name] = owned.get(name) or path_value(route, name, demo)
        elif where == "query" and parameter.get("required"):
            query[name] = example_of(parameter.get("schema", {}), document)
    path_params.update(access.probe.path)
    query.update(access.probe.query)
    request: dict[str, Any] = {
        "method": route.method,
        "url": route.path.format(**path_params),
        "params": query,
    }
    if "requestBody" in route.operation:
        if access.probe.body is not AUTO:
            request["json"] = access.probe.body
        else:
            content = route.operation["requestBody"].get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            request["json"] = example_of(schema, document)
    return request


# --- the matrix ------------------------------------------------------------------------------


def expected_outcome(access: Access, caller: Caller) -> str:
    """'allowed', or the status a refused caller must get."""
    if caller.is_anonymous:
        return "allowed" if access.anonymous else "401"
    if caller.is_customer:
        if access.customers == "none":
            return "403"
        if access.customers == "own" and caller.name == "customer B":
            return "404"
        return "allowed"
    assert caller.role is not None
    return "allowed" if access.allows_role(caller.role) else "403"


def judge(access: Access, caller: Caller, response: httpx.Response) -> str | None:
    """None when the response is what the policy says, else why not."""
    expected = expected_outcome(access, caller)
    status = response.status_code
    if status >= 500:
        return f"server error {status}: {response.text[:300]}"
    if expected == "allowed":
        refused = {401, 403} | (
            {404} if access.customers == "own" and caller.is_customer else set()
        )
        return f"refused with {status}: {response.text[:300]}" if status in refused else None
    if str(status) != expected:
        return f"expected {expected}, got {status}: {response.text[:300]}"
    if not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        return f"{status} is not problem+json: {response.headers.get('content-type')}"
    code = response.json().get("code", "")
    if expected == "401" and not code.startswith("auth."):
        return f"401 with code {code!r}, expected an auth.* code"
    if not code:
        return f"{status} problem without a code"
    return None


def test_each_route_admits_exactly_the_callers_its_policy_names(
    live_server: LiveServer,
    openapi: dict[str, Any],
    callers: list[Caller],
    demo_values: dict[str, str],
) -> None:
    routes = [route for route in routes_of(openapi) if route.key in POLICY]
    # Routes that spend the caller's token (sign-out) go last so the others still have one.
    routes.sort(key=lambda route: POLICY[route.key].ends_session)
    failures: list[str] = []
    checked = 0
    with live_server.client(headers={"Accept-Language": "en"}) as client:
        customer_a = next(caller for caller in callers if caller.name == "customer A")
        for route in routes:
            access = POLICY[route.key]
            owned: dict[str, str] = {}
            if access.customers == "own":
                assert access.resource in OWNED_RESOURCES, f"no maker for {access.resource!r}"
                client.headers.update(customer_a.headers)
                owned = OWNED_RESOURCES[access.resource](client)
                client.headers.pop("Authorization", None)
            request = build_request(route, access, openapi, demo_values, owned)
            for caller in callers:
                client.cookies.clear()
                response = client.request(**request, headers=caller.headers)
                checked += 1
                problem = judge(access, caller, response)
                if problem:
                    failures.append(f"{route.method} {route.path} as {caller.name}: {problem}")

    assert checked == len(routes) * len(callers)
    assert not failures, "access policy violated:\n  " + "\n  ".join(failures)
