"""One error hierarchy for all of marque.

Every error a caller can see carries a stable ``code`` (a dotted string such as
``catalog.unknown_model``), an HTTP-ish ``status`` and an English message template
that is also the gettext msgid; the entry points translate it into the caller's
language and render RFC 9457 problem+json. Services never raise HTTP exceptions.

    MarqueError                      500  internal (never shown in detail)
    ├── NotFound                     404
    ├── Conflict                     409
    │   └── InvalidTransition        409  state machine refused an event
    ├── ValidationFailed             422  carries a list of Violations
    ├── Unauthenticated              401
    ├── Forbidden                    403
    ├── RateLimited                  429  carries retry_after seconds
    └── Unavailable                  503  carries retry_after seconds (internal cause)

Codes are declared as ``StrEnum``s per bounded context (see ``ErrorCode`` below and
the ``*ErrorCode`` enums of each domain module) so that a typo is an import error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


def N_(message: str) -> str:
    """Mark a string for translation without translating it (the domain has no locale)."""
    return message


class ErrorCode(StrEnum):
    """Codes shared by every context."""

    INTERNAL = "internal"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    VALIDATION = "validation_failed"
    UNAUTHENTICATED = "auth.unauthenticated"
    FORBIDDEN = "auth.forbidden"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INVALID_TRANSITION = "invalid_transition"
    REQUEST_INVALID = "request.invalid"
    ROUTE_NOT_FOUND = "request.route_not_found"
    METHOD_NOT_ALLOWED = "request.method_not_allowed"
    CSRF_FAILED = "auth.csrf_failed"


@dataclass(frozen=True)
class Violation:
    """One broken rule inside a ValidationFailed: its own code, message and where."""

    code: str
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    pointer: str | None = None


class MarqueError(Exception):
    """Base of every error marque raises on purpose."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = ErrorCode.INTERNAL
    title: ClassVar[str] = N_("Internal error")
    default_message: ClassVar[str] = N_("Something went wrong on our side. Please try again.")
    #: Internal errors are logged in full and shown to the caller generically.
    expose: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        **params: Any,
    ) -> None:
        self.code: str = str(code or self.default_code)
        self.message: str = message or self.default_message
        self.params: dict[str, Any] = params
        super().__init__(self.render_english())

    def render_english(self) -> str:
        try:
            return self.message.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return self.message


class NotFound(MarqueError):
    status = 404
    default_code: ClassVar[str] = ErrorCode.NOT_FOUND
    title = N_("Not found")
    default_message = N_("The requested resource does not exist.")
    expose = True


class Conflict(MarqueError):
    status = 409
    default_code: ClassVar[str] = ErrorCode.CONFLICT
    title = N_("Conflict")
    default_message = N_("The request conflicts with the current state.")
    expose = True


class InvalidTransition(Conflict):
    """A state machine was asked for an event its current state does not allow."""

    default_code: ClassVar[str] = ErrorCode.INVALID_TRANSITION
    title = N_("Not allowed in the current state")
    default_message = N_("Cannot {event} while {subject} is {state}; allowed now: {allowed}.")

    def __init__(
        self,
        *,
        subject: str,
        state: str,
        event: str,
        allowed: Sequence[str],
        code: str | None = None,
    ) -> None:
        super().__init__(
            code=code,
            subject=subject,
            state=state,
            event=event,
            allowed=", ".join(allowed) or "-",
        )


class ValidationFailed(MarqueError):
    status = 422
    default_code: ClassVar[str] = ErrorCode.VALIDATION
    title = N_("Validation failed")
    default_message = N_("The request breaks {count} rule(s).")
    expose = True

    def __init__(
        self,
        violations: Sequence[Violation],
        message: str | None = None,
        *,
        code: str | None = None,
        **params: Any,
    ) -> None:
        self.violations: list[Violation] = list(violations)
        params.setdefault("count", len(self.violations))
        super().__init__(message, code=code, **params)


class Unauthenticated(MarqueError):
    status = 401
    default_code: ClassVar[str] = ErrorCode.UNAUTHENTICATED
    title = N_("Sign-in required")
    default_message = N_("Please sign in to continue.")
    expose = True


class Forbidden(MarqueError):
    status = 403
    default_code: ClassVar[str] = ErrorCode.FORBIDDEN
    title = N_("Forbidden")
    default_message = N_("Your account is not allowed to do this.")
    expose = True


class RateLimited(MarqueError):
    status = 429
    default_code: ClassVar[str] = ErrorCode.RATE_LIMITED
    title = N_("Too many requests")
    default_message = N_("Too many attempts. Please try again in {retry_after} seconds.")
    expose = True

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int,
        code: str | None = None,
        **params: Any,
    ) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, code=code, retry_after=self.retry_after, **params)


class Unavailable(MarqueError):
    status = 503
    default_code: ClassVar[str] = ErrorCode.UNAVAILABLE
    title = N_("Temporarily unavailable")
    default_message = N_("The service is busy. Please try again in {retry_after} seconds.")
    expose = True

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int = 1,
        code: str | None = None,
        **params: Any,
    ) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, code=code, retry_after=self.retry_after, **params)


__all__ = [
    "Conflict",
    "ErrorCode",
    "Forbidden",
    "InvalidTransition",
    "MarqueError",
    "N_",
    "NotFound",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "ValidationFailed",
    "Violation",
]
