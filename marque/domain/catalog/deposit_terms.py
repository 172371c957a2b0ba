"""Deposit terms: versioned bilingual documents with structured rules and a content hash.

The structured ``DepositRules`` are what later refund logic reads; the title and body are
what the buyer reads. Both go into the content hash, so an order that stores the hash it
was shown can prove which words and which rules it accepted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from marque.domain.catalog.entities import LocalizedText
from marque.domain.money import Money


class DepositKind(StrEnum):
    INTENT = "intent"  # 意向金: small, refundable until the order is locked
    EARNEST = "earnest"  # 定金: Civil Code 586-587, at most 20% of the price
    ADVANCE = "advance"  # 订金: plain prepayment, refundable


class RefundableUntil(StrEnum):
    LOCK = "lock"  # refundable in full until the order locks (plus any cooling-off)
    NEVER = "never"  # locked on payment: not refundable unless the maker breaches
    ALWAYS = "always"  # refundable at any time before delivery


class BreachRemedy(StrEnum):
    REFUND = "refund"  # the whole deposit back
    DOUBLE = "double"  # twice the deposit back (earnest money, Civil Code art. 587)


@dataclass(frozen=True, slots=True)
class MakerBreach:
    """What counts as the maker's breach, and what the buyer then gets back."""

    late_delivery_weeks_beyond_window: int | None
    price_rise_after_lock: bool
    spec_change_after_lock: bool
    remedy: BreachRemedy

    def to_dict(self) -> dict[str, Any]:
        return {
            "late_delivery_weeks_beyond_window": self.late_delivery_weeks_beyond_window,
            "price_rise_after_lock": self.price_rise_after_lock,
            "spec_change_after_lock": self.spec_change_after_lock,
            "remedy": str(self.remedy),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MakerBreach:
        weeks = data.get("late_delivery_weeks_beyond_window")
        return cls(
            late_delivery_weeks_beyond_window=None if weeks is None else int(weeks),
            price_rise_after_lock=bool(data["price_rise_after_lock"]),
            spec_change_after_lock=bool(data["spec_change_after_lock"]),
            remedy=BreachRemedy(data["remedy"]),
        )


@dataclass(frozen=True, slots=True)
class DepositRules:
    refundable_until: RefundableUntil
    #: Hours after payment when the order locks by itself; 0 = on payment; None = never.
    auto_lock_after_hours: int | None
    #: Hours before an automatic lock when the buyer is reminded.
    lock_reminder_hours_before: int | None
    #: Hours after a lock during which the buyer may still cancel with a full refund.
    cooling_off_hours_after_lock: int
    #: Days within which a due refund reaches the original payment method.
    refund_within_days: int
    maker_breach: MakerBreach
    transferable: bool = False
    credited_to_price: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "refundable_until": str(self.refundable_until),
            "auto_lock_after_hours": self.auto_lock_after_hours,
            "lock_reminder_hours_before": self.lock_reminder_hours_before,
            "cooling_off_hours_after_lock": self.cooling_off_hours_after_lock,
            "refund_within_days": self.refund_within_days,
            "maker_breach": self.maker_breach.to_dict(),
            "transferable": self.transferable,
            "credited_to_price": self.credited_to_price,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DepositRules:
        auto = data.get("auto_lock_after_hours")
        reminder = data.get("lock_reminder_hours_before")
        return cls(
            refundable_until=RefundableUntil(data["refundable_until"]),
            auto_lock_after_hours=None if auto is None else int(auto),
            lock_reminder_hours_before=None if reminder is None else int(reminder),
            cooling_off_hours_after_lock=int(data["cooling_off_hours_after_lock"]),
            refund_within_days=int(data["refund_within_days"]),
            maker_breach=MakerBreach.from_dict(data["maker_breach"]),
            transferable=bool(data.get("transferable", False)),
            credited_to_price=bool(data.get("credited_to_price", True)),
        )


@dataclass(frozen=True)
class DepositTerms:
    code: str
    version: int
    kind: DepositKind
    amount: Money
    title: LocalizedText
    body: LocalizedText
    rules: DepositRules
    effective_from: datetime
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError("terms versions start at 1")
        if self.amount.amount <= 0:
            raise ValueError("a deposit amount is positive")
        if self.effective_from.tzinfo is None:
            raise ValueError("effective_from must be an aware datetime")
        object.__setattr__(self, "content_hash", terms_hash(self))

    def canonical(self) -> dict[str, Any]:
        """Everything the buyer agrees to, as plain JSON data."""
        return {
            "code": self.code,
            "version": self.version,
            "kind": str(self.kind),
            "amount": {"amount": self.amount.amount, "currency": self.amount.currency},
            "title": {"zh-CN": self.title.zh, "en": self.title.en},
            "body": {"zh-CN": self.body.zh, "en": self.body.en},
            "rules": self.rules.to_dict(),
            "effective_from": self.effective_from.isoformat(),
        }


def terms_hash(terms: DepositTerms) -> str:
    """sha256 (hex) over canonical JSON: sorted keys, no spaces, UTF-8."""
    text = json.dumps(terms.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_terms(versions: list[DepositTerms], now: datetime) -> DepositTerms | None:
    """The newest version already in effect at ``now``."""
    in_effect = [t for t in versions if t.effective_from <= now]
    return max(in_effect, key=lambda t: t.version, default=None)
