"""The launch replay: buyers arrive at a fixed rate, whatever the server answers (an open
model), and each walks the launch-night path over HTTP:

configure (a share; the rest reuse a few configuration codes) -> reserve with an
Idempotency-Key (a share sends the same request again) -> pay on the sandbox (its webhook
confirms the payment) -> most lock within seconds, some cancel.

Every acknowledged effect is remembered in a ``Ledger`` for the verification afterwards.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.driver import Answer, Driver, sleep_until
from bench.provision import Buyer
from bench.webhooks import WEBHOOK_PATH, WebhookSigner

#: (model, trim, options): plain trims and the limited edition of the demo catalogue.
CHOICES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("arc", "standard", ("paint-graphite",)),
    ("arc", "standard", ("paint-midnight-blue",)),
    ("arc", "long-range", ("paint-pearl-white",)),
    ("arc", "long-range", ("paint-graphite",)),
)
LIMITED_CHOICE = ("arc", "founders", ("paint-aurora-green",))


@dataclass
class Plan:
    buyers: int
    rate: float
    configure_share: float = 0.25
    retry_share: float = 0.10
    limited_share: float = 0.05
    lock_share: float = 0.65
    cancel_share: float = 0.05
    pay_think: tuple[float, float] = (0.2, 1.0)
    lock_think: tuple[float, float] = (0.5, 3.0)
    poll_every: float = 1.0
    #: "driver": the bench delivers the sandbox's signed webhooks itself, at once and
    #: concurrently, like a provider's delivery fleet; "server": the sandbox's own
    #: dispatcher thread in each server process delivers them.
    webhooks: str = "driver"
    duplicate_webhook_share: float = 0.10
    paid_wait: float = 60.0
    seed: int = 7

    @property
    def seconds(self) -> float:
        return self.buyers / self.rate


@dataclass
class Configured:
    code: str
    limited: bool
    choice: dict[str, Any]
    reserve_body: dict[str, Any]


@dataclass
class Ledger:
    """What the server acknowledged, for the verification."""

    reserved: dict[str, str] = field(default_factory=dict)  # order id -> buyer id
    limited_reserved: set[str] = field(default_factory=set)
    keys: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (buyer, key) -> ids
    paid: dict[str, float] = field(default_factory=dict)  # order id -> wall time of pay ack
    locked: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    paid_seen: set[str] = field(default_factory=set)
    not_seen_paid: set[str] = field(default_factory=set)

    def remember(self, buyer: Buyer, key: str, answer: Answer, limited: bool) -> str | None:
        if not answer.ok or not isinstance(answer.body, dict):
            return None
        order_id = str(answer.body["id"])
        self.reserved[order_id] = buyer.id
        self.keys.setdefault((buyer.id, key), set()).add(order_id)
        if limited:
            self.limited_reserved.add(order_id)
        return order_id


def reserve_body(configuration: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /api/v1/orders for a configuration as the API answered it."""
    terms = configuration["deposit_terms"]
    return {
        "configuration_code": configuration["code"],
        "terms_code": terms["code"],
        "terms_version": terms["version"],
        "terms_hash": terms["content_hash"],
        "accept_terms": True,
    }


def configured_from(answer: Answer, choice: dict[str, Any], limited: bool) -> Configured:
    return Configured(
        code=answer.body["code"],
        limited=limited,
        choice=choice,
        reserve_body=reserve_body(answer.body),
    )


async def configure_all(driver: Driver, token: str) -> tuple[list[Configured], Configured | None]:
    """The few configurations buyers reuse, and the limited edition's (None if refused)."""
    plain: list[Configured] = []
    limited: Configured | None = None
    for model, trim, options in (*CHOICES, LIMITED_CHOICE):
        choice = {"model": model, "trim": trim, "options": list(options)}
        answer = await driver.call(
            "setup", "POST", "/api/v1/configurations", token=token, body=choice
        )
        if not answer.ok:
            print(f"  configuration {choice} refused: {answer.label}")
            continue
        configured = configured_from(answer, choice, (model, trim, options) == LIMITED_CHOICE)
        if configured.limited:
            limited = configured
        else:
            plain.append(configured)
    if not plain:
        raise SystemExit("no configuration of the demo catalogue could be priced")
    return plain, limited


class Launch:
    def __init__(
        self,
        driver: Driver,
        plan: Plan,
        buyers: Sequence[Buyer],
        plain: Sequence[Configured],
        limited: Configured | None,
    ) -> None:
        self.driver = driver
        self.plan = plan
        self.buyers = buyers
        self.plain = plain
        self.limited = limited
        self.ledger = Ledger()
        self.random = random.Random(plan.seed)
        self.replay_mismatches = 0
        self.signer: WebhookSigner | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self, started: float) -> None:
        """Start one journey per buyer at ``started + i / rate``; wait for all of them."""
        interval = 1.0 / self.plan.rate
        for index, buyer in enumerate(self.buyers):
            arrival = started + index * interval
            await sleep_until(arrival)
            task = asyncio.create_task(self.journey(buyer, arrival))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def _pick(self) -> Configured:
        if self.limited is not None and self.random.random() < self.plan.limited_share:
            return self.limited
        return self.random.choice(list(self.plain))

    async def journey(self, buyer: Buyer, arrival: float) -> None:
        rnd, plan, drv = self.random, self.plan, self.driver
        configured = self._pick()
        moment = arrival
        app: dict[str, str] = {}  # what the buyer's app keeps between requests
        if rnd.random() < plan.configure_share:
            answer = await drv.call(
                "configure",
                "POST",
                "/api/v1/configurations",
                scheduled=moment,
                token=buyer.token,
                body=configured.choice,
                carry=app,
            )
            if not answer.ok:
                return
            configured = configured_from(answer, configured.choice, configured.limited)
            moment = drv.now()
        key = uuid.uuid4().hex
        reserve = await drv.call(
            "reserve",
            "POST",
            "/api/v1/orders",
            scheduled=moment,
            token=buyer.token,
            key=key,
            body=configured.reserve_body,
            carry=app,
        )
        order_id = self.ledger.remember(buyer, key, reserve, configured.limited)
        if order_id is None:
            return
        if rnd.random() < plan.retry_share:
            replay = await drv.call(
                "reserve_replay",
                "POST",
                "/api/v1/orders",
                token=buyer.token,
                key=key,
                body=configured.reserve_body,
            )
            if self.ledger.remember(buyer, key, replay, configured.limited) not in (None, order_id):
                self.replay_mismatches += 1
        reference = (reserve.body.get("payment") or {}).get("provider_reference")
        if not reference:
            reference = await self._payment_reference(buyer, order_id)
            if not reference:
                return
        moment = drv.now() + rnd.uniform(*plan.pay_think)
        await sleep_until(moment)
        pay = await drv.call(
            "pay", "POST", f"/api/v1/sandbox/payments/{reference}/succeed", scheduled=moment
        )
        if not pay.ok:
            return
        self.ledger.paid[order_id] = pay.done_wall
        if self.plan.webhooks == "driver" and self.signer is not None:
            await self._deliver(pay.body)
        roll = rnd.random()
        if roll >= plan.lock_share + plan.cancel_share:
            return
        if configured.limited and roll < plan.lock_share:
            return  # the limited edition's earnest money locks the order on payment
        if not await self._until_paid(buyer, order_id):
            return
        moment = drv.now() + rnd.uniform(*plan.lock_think)
        await sleep_until(moment)
        if roll < plan.lock_share:
            lock = await drv.call(
                "lock",
                "POST",
                f"/api/v1/orders/{order_id}/lock",
                scheduled=moment,
                token=buyer.token,
                key=uuid.uuid4().hex,
                body={"confirm": True},
            )
            if lock.ok:
                self.ledger.locked.add(order_id)
        else:
            cancel = await drv.call(
                "cancel",
                "POST",
                f"/api/v1/orders/{order_id}/cancel",
                scheduled=moment,
                token=buyer.token,
                key=uuid.uuid4().hex,
                body={},
            )
            if cancel.ok:
                self.ledger.cancelled.add(order_id)

    async def _deliver(self, payment: dict[str, Any]) -> None:
        """The provider's webhook for a payment that just succeeded; a share twice at once."""
        assert self.signer is not None
        content, headers = self.signer.sign(payment)
        moment = self.driver.now()
        copies = 2 if self.random.random() < self.plan.duplicate_webhook_share else 1
        await asyncio.gather(
            *(
                self.driver.call(
                    "webhook" if copy == 0 else "webhook_duplicate",
                    "POST",
                    WEBHOOK_PATH,
                    scheduled=moment,
                    content=content,
                    headers=headers,
                )
                for copy in range(copies)
            )
        )

    async def _payment_reference(self, buyer: Buyer, order_id: str) -> str | None:
        for _ in range(10):
            answer = await self.driver.call(
                "payment_read", "GET", f"/api/v1/orders/{order_id}/payment", token=buyer.token
            )
            if answer.ok and answer.body.get("provider_reference"):
                return str(answer.body["provider_reference"])
            await asyncio.sleep(1.0)
        return None

    async def _until_paid(self, buyer: Buyer, order_id: str) -> bool:
        """Poll the order's payment like the buyer's app does, until the webhook landed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.plan.paid_wait
        while loop.time() < deadline:
            await asyncio.sleep(self.plan.poll_every)
            answer = await self.driver.call(
                "poll", "GET", f"/api/v1/orders/{order_id}/payment", token=buyer.token
            )
            if answer.ok and answer.body.get("status") == "succeeded":
                self.ledger.paid_seen.add(order_id)
                return True
        self.ledger.not_seen_paid.add(order_id)
        return False
