"""Who may call each API route: the table tests/api/test_access_matrix.py holds every route to.

Every (METHOD, path template) of the OpenAPI document needs an entry in ``POLICY``; a route
without one, or an entry without a route, fails the test. So each new route has to say here,
in one line, who may call it, and the test then proves it for an anonymous caller, two
customers and every staff role against the real server.

Kinds of access:
- ``PUBLIC``: anyone, signed in or not.
- ``SANDBOX``: anyone, but the route exists only while sandbox mode is on (404 otherwise).
- ``SIGNED_IN``: any signed-in customer or staff member; anonymous callers get 401.
- ``CUSTOMER``: customers only; anonymous 401, staff 403.
- ``customer_owned(resource, *staff_roles)``: the customer who owns the resource (others get 404,
  as if it did not exist), plus the staff roles named; anonymous 401, other staff 403.
  ``resource`` names a maker in test_access_matrix.py ``OWNED_RESOURCES`` that creates one as
  customer A and returns its path parameters.
- ``staff(*roles)``: staff holding one of ``roles`` (any staff when none is named); admins hold
  every role. Anonymous 401, customers and other staff 403.

A ``Probe`` says how to call a route when the defaults (a minimal body built from the schema,
demo codes for path parameters) would have side effects the test must avoid, e.g. sending an
SMS or counting a failed sign-in against the test machine's address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from marque.domain.catalog import configuration_code
from marque.domain.identity import Role
from marque.services.demo_catalog import demo_catalogue

ALL_ROLES: frozenset[Role] = frozenset(Role)
AUTO: Any = object()  # build the value from the OpenAPI schema


@dataclass(frozen=True)
class Probe:
    body: Any = AUTO
    query: Mapping[str, str] = field(default_factory=dict)
    path: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Access:
    anonymous: bool
    customers: Literal["none", "any", "own"]
    staff_roles: frozenset[Role]
    #: for customers == "own": the maker in OWNED_RESOURCES that creates customer A's resource
    resource: str | None = None
    #: calling the route spends the caller's token (sign-out): the test checks it last
    ends_session: bool = False
    probe: Probe = field(default_factory=Probe)
    note: str = ""

    def with_probe(self, **probe: Any) -> Access:
        return replace(self, probe=Probe(**probe))

    def allows_role(self, role: Role) -> bool:
        return role in self.staff_roles


PUBLIC = Access(anonymous=True, customers="any", staff_roles=ALL_ROLES)
SANDBOX = replace(PUBLIC, note="sandbox mode only; 404 sandbox.disabled otherwise")
SIGNED_IN = Access(anonymous=False, customers="any", staff_roles=ALL_ROLES)
CUSTOMER = Access(anonymous=False, customers="any", staff_roles=frozenset())


def staff(*roles: Role) -> Access:
    allowed = frozenset(roles) | {Role.ADMIN} if roles else ALL_ROLES
    return Access(anonymous=False, customers="none", staff_roles=allowed)


def customer_owned(resource: str, *roles: Role) -> Access:
    allowed = frozenset(roles) | {Role.ADMIN} if roles else frozenset()
    return Access(anonymous=False, customers="own", staff_roles=allowed, resource=resource)


#: An empty JSON object fails request validation (422) before any handler runs: enough to
#: show the caller was not refused, without sending an SMS or counting a failed sign-in.
NO_SIDE_EFFECTS = Probe(body={})


def _first_demo_configuration() -> str:
    """The code of the first demo model's first trim with its default options: what the
    order maker of test_access_matrix.py reserves (codes are hashes of the choices)."""
    model = demo_catalogue().models[0]
    defaults = [g.default_option for g in model.option_groups if g.default_option]
    return configuration_code(model.code, model.trims[0].code, model.resolve_options(defaults))


POLICY: dict[tuple[str, str], Access] = {
    # operations
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): replace(PUBLIC, note="restrict at the proxy in production"),
    # catalogue and configurator
    ("GET", "/api/v1/models"): PUBLIC,
    ("GET", "/api/v1/models/{model_code}"): PUBLIC,
    ("POST", "/api/v1/configurations"): PUBLIC,
    ("GET", "/api/v1/configurations/{code}"): PUBLIC,
    # sign-in
    ("POST", "/api/v1/auth/sms-code"): replace(PUBLIC, probe=NO_SIDE_EFFECTS),
    ("POST", "/api/v1/auth/login"): replace(PUBLIC, probe=NO_SIDE_EFFECTS),
    ("POST", "/api/v1/auth/staff/login"): replace(PUBLIC, probe=NO_SIDE_EFFECTS),
    ("POST", "/api/v1/auth/logout"): replace(SIGNED_IN, ends_session=True),
    ("GET", "/api/v1/me"): SIGNED_IN,
    # sandbox read-back
    ("GET", "/api/v1/sandbox/sms"): SANDBOX.with_probe(query={"phone": "13900000000"}),
    # sandbox payment provider: stands in for the buyer's payment app, so no sign-in
    ("POST", "/api/v1/sandbox/payments/{reference}/succeed"): SANDBOX,
    ("POST", "/api/v1/sandbox/payments/{reference}/fail"): SANDBOX,
    ("GET", "/api/v1/sandbox/payments/{reference}"): SANDBOX,
    ("GET", "/api/v1/sandbox/settlements"): SANDBOX.with_probe(query={"date": "2026-11-25"}),
    ("POST", "/api/v1/sandbox/webhooks/deliver"): SANDBOX,
    # orders: the buyer's own (others get 404); sales and finance may read any order
    ("POST", "/api/v1/orders"): CUSTOMER,
    ("GET", "/api/v1/orders"): CUSTOMER,
    ("GET", "/api/v1/orders/{order_id}"): customer_owned("order", Role.SALES, Role.FINANCE),
    ("GET", "/api/v1/orders/{order_id}/refund-quote"): customer_owned(
        "order", Role.SALES, Role.FINANCE
    ),
    ("GET", "/api/v1/orders/{order_id}/payment"): customer_owned("order", Role.SALES, Role.FINANCE),
    # money-moving writes: the buyer only; without an Idempotency-Key the owner gets 400 and
    # changes nothing, while another buyer still gets 404
    ("PATCH", "/api/v1/orders/{order_id}/configuration"): customer_owned("order"),
    ("POST", "/api/v1/orders/{order_id}/lock"): customer_owned("order"),
    ("POST", "/api/v1/orders/{order_id}/cancel"): customer_owned("order"),
    ("POST", "/api/v1/orders/{order_id}/payments"): customer_owned("order"),
    # a read that changes nothing: the owner's own configuration (nothing would change)
    ("GET", "/api/v1/orders/{order_id}/configuration-preview"): customer_owned("order").with_probe(
        query={"configuration_code": _first_demo_configuration()}
    ),
    # payment provider webhooks: public, authenticated by the provider's signature
    ("POST", "/api/v1/payments/webhooks/{provider}"): replace(
        PUBLIC, note="signature-verified; unsigned calls get 400"
    ),
    # finance console
    ("GET", "/api/v1/finance/refunds"): staff(Role.FINANCE),
    ("POST", "/api/v1/finance/refunds/{refund_id}/retry"): staff(Role.FINANCE),
    ("POST", "/api/v1/finance/refunds/{refund_id}/compensation"): staff(Role.FINANCE),
    ("GET", "/api/v1/finance/orders/{order_id}/ledger"): staff(Role.FINANCE),
    ("GET", "/api/v1/finance/reconciliations"): staff(Role.FINANCE),
    ("GET", "/api/v1/finance/ledger/check"): staff(Role.FINANCE),
    # sales opening (launch night): sales staff; the probe body is refused (422) so the
    # matrix never moves the demo catalogue's opening times
    ("GET", "/api/v1/sales/models/{model_code}"): staff(Role.SALES),
    ("PUT", "/api/v1/sales/models/{model_code}/opening"): staff(Role.SALES).with_probe(body={}),
}
