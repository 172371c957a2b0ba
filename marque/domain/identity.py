"""Who is acting: customers, staff with roles, or nobody. Every transition records one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    SALES = "sales"
    DELIVERY = "delivery"
    SERVICE_ADVISOR = "service_advisor"
    TECHNICIAN = "technician"
    FINANCE = "finance"
    ADMIN = "admin"


class ActorKind(StrEnum):
    ANONYMOUS = "anonymous"
    CUSTOMER = "customer"
    STAFF = "staff"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    roles: frozenset[Role] = frozenset()
    display_name: str = ""

    @property
    def is_customer(self) -> bool:
        return self.kind is ActorKind.CUSTOMER

    @property
    def is_staff(self) -> bool:
        return self.kind is ActorKind.STAFF

    def has_any(self, roles: frozenset[Role] | set[Role]) -> bool:
        """Admins hold every role."""
        return Role.ADMIN in self.roles or bool(self.roles & set(roles))

    @property
    def ref(self) -> str:
        """A short stable text for audit trails: ``customer:C-1``, ``staff:alice``, ``system``."""
        return f"{self.kind}:{self.id}" if self.id else str(self.kind)


ANONYMOUS = Actor(ActorKind.ANONYMOUS)
SYSTEM = Actor(ActorKind.SYSTEM, id="system")
