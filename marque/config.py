"""The one settings object. Built by ``bootstrap``, never at import time.

Every field is read from an environment variable prefixed ``MARQUE_`` (see
docs/operations.md for the full table).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PRODUCTION = "production"


DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARQUE_", extra="ignore")

    env: Environment = Field(Environment.DEV, description="dev, test or production")
    database_url: str = Field(
        "sqlite:///./var/marque.db",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    host: str = Field("127.0.0.1", description="Address `marque serve` binds to")
    port: int = Field(8000, description="Port `marque serve` listens on")
    public_url: str = Field(
        "", description="Base URL printed and used in links; default http://host:port"
    )
    secret_key: str = Field(DEV_SECRET, description="Signs CSRF tokens and webhook secrets")
    sandbox: bool = Field(
        True, description="Sandbox SMS and payment providers and their read-back endpoints"
    )
    payment_provider: str = Field("sandbox", description="Provider new payments go to")
    default_locale: str = Field("zh-CN", description="Language when the caller states none")
    db_pool_size: int = Field(10, description="Connections per process (PostgreSQL)")
    db_max_overflow: int = Field(10, description="Extra connections under load (PostgreSQL)")
    db_ping_idle_seconds: float = Field(
        10.0,
        ge=0,
        description="Ping a pooled connection before use after this long idle (PostgreSQL); "
        "0: before every use",
    )
    max_in_flight: int = Field(
        0,
        ge=0,
        description="Requests one server process works on at once (with "
        "MARQUE_ROUTES_ON_EVENT_LOOP, those of the launch's routes, on the event loop); the "
        "excess waits briefly, then gets 503 overload.shed with Retry-After. 0: 1 on the "
        "loop, else 4, at most MARQUE_DB_POOL_SIZE",
    )
    max_in_flight_in_pool: int = Field(
        0,
        ge=0,
        description="With MARQUE_ROUTES_ON_EVENT_LOOP, requests one server process works on at "
        "once in its thread pool (pages, staff console, other routes), apart from the loop's. "
        "0: 4, at most MARQUE_DB_POOL_SIZE",
    )
    max_in_flight_wait_seconds: float = Field(
        0.01,
        ge=0,
        description="Longest wait for a free slot before a request is shed (at most as many "
        "wait as may run)",
    )
    overload_ahead_wait_seconds: float = Field(
        0.01,
        ge=0,
        description="Longest wait for a free slot of a return with a due waiting-room ticket "
        "(it goes ahead of newcomers) before it is shed. The next steps of begun journeys "
        "wait for their turn instead (MARQUE_OVERLOAD_FOLLOW_UPS_WAITING_PER_SLOT)",
    )
    overload_follow_ups_waiting_per_slot: int = Field(
        8,
        ge=0,
        description="Next steps of begun journeys (poll, lock, cancel, read an order) that may "
        "wait for their turn per in-flight slot, ahead of everyone else; one more is shed at "
        "once. 0: none waits",
    )
    overload_retry_after_seconds: int = Field(
        1, ge=1, description="Least Retry-After, in seconds, of 503 answers under overload"
    )
    overload_retry_after_max_seconds: int = Field(
        300,
        ge=1,
        description="Furthest a shed request is told to come back: each is booked into the "
        "first second with room (as much new work as a recent second started), at most this "
        "far ahead, with a ticket that puts it ahead of newcomers then",
    )
    log_level: str = Field("INFO", description="Python logging level")
    log_json: bool = Field(True, description="One JSON object per log line")
    token_ttl_seconds: int = Field(
        7 * 24 * 3600, description="Lifetime of API bearer tokens and page sessions"
    )
    sms_code_ttl_seconds: int = Field(300, description="How long an SMS sign-in code stays valid")
    sms_code_interval_seconds: int = Field(
        60, description="Minimum time between two codes to one phone"
    )
    sms_codes_per_phone_per_hour: int = Field(5, description="Codes one phone may request per hour")
    sms_codes_per_client_per_hour: int = Field(
        20, description="Codes one client address may request per hour"
    )
    login_failures_before_lockout: int = Field(
        5, description="Wrong codes or passwords before a lockout"
    )
    lockout_seconds: int = Field(
        900, description="How long a phone, username or address stays locked out"
    )
    cookie_secure: bool = Field(
        False, description="Mark session cookies Secure (set true behind HTTPS)"
    )
    webhook_tolerance_seconds: int = Field(
        300,
        ge=1,
        description="Payment webhooks signed further than this from now are refused as stale",
    )
    sandbox_webhook_secret: str = Field(
        "",
        description="Key the sandbox provider signs webhooks with; empty: derived from MARQUE_SECRET_KEY",
    )
    sandbox_webhook_url: str = Field(
        "",
        description="Where the sandbox provider delivers webhooks; empty: the public URL's /api/v1/payments/webhooks/sandbox",
    )
    sandbox_webhook_delay_seconds: float = Field(
        0.0,
        ge=0,
        description="Sandbox: seconds from a payment or refund event to its first webhook delivery",
    )
    sandbox_webhook_duplicate_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Sandbox: share of events delivered twice (0-1; 0.5 = the 1st, 3rd, 5th ... event)",
    )
    sandbox_webhook_reorder_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Sandbox: share of events held back so that later events overtake them (0-1)",
    )
    sandbox_webhook_reorder_hold_seconds: float = Field(
        5.0, ge=0, description="Sandbox: how long a held-back (reordered) webhook waits"
    )
    sandbox_refund_delay_seconds: float = Field(
        0.0, ge=0, description="Sandbox: seconds a refund stays pending before it settles"
    )
    sandbox_refund_failure_rate: float = Field(
        0.0, ge=0, le=1, description="Sandbox: share of refunds that fail (0-1; 1 = every refund)"
    )
    sandbox_unavailable_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Sandbox: share of provider calls that time out or answer 500 (0-1)",
    )

    # -- orders, refunds and their workers (issue 3) --------------------------------------
    orders_max_open_per_model: int = Field(
        2, ge=1, description="Open orders one buyer may hold for one model"
    )
    orders_limited_edition_per_buyer: int = Field(
        1, ge=1, description="Orders one buyer may hold of one limited-edition trim"
    )
    orders_payment_window_minutes: int = Field(
        30, ge=1, description="Minutes a reservation waits for its deposit before it expires"
    )
    refund_retry_base_seconds: int = Field(
        60, ge=1, description="First wait before a failed refund is sent again; doubles each time"
    )
    refund_retry_max_seconds: int = Field(
        6 * 3600, ge=1, description="Longest wait between two attempts of one refund"
    )
    refund_max_attempts: int = Field(
        12, ge=1, description="Attempts before a refund is marked failed for finance"
    )
    outbox_max_attempts: int = Field(
        8, ge=1, description="Attempts before a notification is set aside as dead"
    )
    idempotency_key_ttl_hours: int = Field(
        48,
        ge=24,
        description="Hours an Idempotency-Key and its first answer are kept (24 at least)",
    )
    worker_interval_seconds: float = Field(
        5.0, gt=0, description="Seconds `marque worker` sleeps between rounds of its jobs"
    )
    routes_on_event_loop: bool = Field(
        True,
        description="The launch's routes (reserve, pay, webhook, poll, lock, cancel, read an "
        "order, configure) run their database work on the server's event loop, one at a "
        "time per process, instead of in the thread pool: less CPU per request; false: "
        "the thread pool, as other routes",
    )
    worker_in_server: bool = Field(
        True,
        description="Each server process also runs the jobs of `marque worker` (expiry, lock "
        "reminders, auto-lock, refunds, notifications); false when workers run apart",
    )

    # -- launch night (issue 4) -----------------------------------------------------------
    auth_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="Seconds a server process reuses what a buyer's token stands for (0: "
        "read it on every request); a token signed out in another process works that long",
    )
    catalog_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="Seconds a server process reuses a model, its price books and terms "
        "before reading them again; changes made by another process show after at most "
        "this long (0: read every time)",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.env is Environment.PRODUCTION:
            problems = []
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                problems.append("MARQUE_SECRET_KEY must be set to 32+ random characters")
            if self.sandbox:
                problems.append("MARQUE_SANDBOX must be false in production")
            if not self.cookie_secure:
                problems.append("MARQUE_COOKIE_SECURE must be true in production")
            if problems:
                raise ValueError("; ".join(problems))
        return self

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)
