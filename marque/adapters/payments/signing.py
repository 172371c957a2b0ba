"""Webhook signatures: HMAC-SHA256 over ``"{timestamp}.{body}"`` with a per-provider key.

A signed webhook carries one header::

    Marque-Signature: t=1764072000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

``t`` is the Unix time of signing and ``v1`` the hex HMAC-SHA256 of ``f"{t}."`` followed by
the raw body bytes. A receiver recomputes the HMAC with its copy of the key, compares in
constant time, and refuses a timestamp further than the tolerance (default 300 s,
``MARQUE_WEBHOOK_TOLERANCE_SECONDS``) from its own clock, so a captured webhook cannot be
replayed later. Several ``v1`` entries may be present (key rotation): any match is enough.

The key of a provider is ``MARQUE_SANDBOX_WEBHOOK_SECRET`` for the sandbox when set, else an
HMAC of the provider's name under ``MARQUE_SECRET_KEY`` (so each provider's key differs and
none is the secret key itself).

Refusals are ``WebhookRejected`` with a code that says why:
``payments.webhook_malformed`` (no header, or one that cannot be parsed),
``payments.webhook_signature_invalid`` (wrong key or a changed body) and
``payments.webhook_stale`` (a good signature made too long ago or too far ahead).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from marque.adapters.payments.errors import PaymentErrorCode, PaymentMessage
from marque.config import Settings
from marque.services.payment_ports import WebhookRejected

SIGNATURE_HEADER: Final = "Marque-Signature"
SCHEME: Final = "v1"
#: A header longer than this is refused unread.
_MAX_HEADER_LENGTH: Final = 2048


def derive_secret(secret_key: str, provider: str) -> bytes:
    """A provider's webhook key derived from the application's secret key."""
    message = f"marque-webhook-secret\x00{provider}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()


def webhook_secret(settings: Settings, provider: str) -> bytes:
    """The key ``provider``'s webhooks are signed with on this installation."""
    if provider == "sandbox" and settings.sandbox_webhook_secret:
        return settings.sandbox_webhook_secret.encode()
    return derive_secret(settings.secret_key, provider)


def compute_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret, signed, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, body: bytes, now: datetime) -> str:
    """The ``Marque-Signature`` value for ``body`` signed at ``now``."""
    timestamp = int(now.timestamp())
    return f"t={timestamp},{SCHEME}={compute_signature(secret, timestamp, body)}"


@dataclass(frozen=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def _malformed(problem: str) -> WebhookRejected:
    return WebhookRejected(
        PaymentMessage.WEBHOOK_MALFORMED,
        code=PaymentErrorCode.WEBHOOK_MALFORMED,
        problem=problem,
        reason=problem,
    )


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively, from any mapping (Starlette's or a plain dict)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def parse_signature_header(value: str | None) -> ParsedSignature:
    if not value:
        raise _malformed(f"the {SIGNATURE_HEADER} header is missing")
    if len(value) > _MAX_HEADER_LENGTH:
        raise _malformed(f"the {SIGNATURE_HEADER} header is too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise _malformed(f"the {SIGNATURE_HEADER} header has a part without '='")
        if key == "t":
            if not item.isascii() or not item.isdigit() or timestamp is not None:
                raise _malformed(f"the {SIGNATURE_HEADER} timestamp is not one Unix time")
            timestamp = int(item)
        elif key == SCHEME:
            signatures.append(item)
    if timestamp is None:
        raise _malformed(f"the {SIGNATURE_HEADER} header has no timestamp")
    if not signatures:
        raise _malformed(f"the {SIGNATURE_HEADER} header has no {SCHEME} signature")
    return ParsedSignature(timestamp, tuple(signatures))


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    *,
    tolerance_seconds: int,
) -> datetime:
    """Check the signature of ``body``, then its age; return when it was signed.

    The signature is checked first, so a changed body or a wrong key is always
    ``payments.webhook_signature_invalid``; only a genuine but old (or future) signature
    is ``payments.webhook_stale``.
    """
    parsed = parse_signature_header(header_value(headers, SIGNATURE_HEADER))
    expected = compute_signature(secret, parsed.timestamp, body).encode()
    matched = False
    for candidate in parsed.signatures:
        # Compare every candidate, in constant time each, without stopping early.
        matched |= hmac.compare_digest(expected, candidate.encode(errors="replace"))
    if not matched:
        raise WebhookRejected(
            PaymentMessage.WEBHOOK_SIGNATURE_INVALID,
            code=PaymentErrorCode.WEBHOOK_SIGNATURE_INVALID,
            reason="signature invalid",
        )
    try:
        signed_at = datetime.fromtimestamp(parsed.timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        raise _malformed("the timestamp is out of range") from None
    if abs(now.timestamp() - parsed.timestamp) > tolerance_seconds:
        raise WebhookRejected(
            PaymentMessage.WEBHOOK_STALE,
            code=PaymentErrorCode.WEBHOOK_STALE,
            signed_at=signed_at.isoformat(),
            tolerance=tolerance_seconds,
            reason="stale timestamp",
        )
    return signed_at


__all__ = [
    "SIGNATURE_HEADER",
    "ParsedSignature",
    "compute_signature",
    "derive_secret",
    "header_value",
    "parse_signature_header",
    "signature_header",
    "verify",
    "webhook_secret",
]
