"""Lockouts after failed sign-in attempts, counted in the database so every process agrees.

A failure is recorded per subject (phone or username) and per client address; the pure rule
lives in ``marque.domain.auth.lockout_wait``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from marque.domain.auth import AuthErrorCode, AuthMessage, LockoutPolicy, lockout_wait
from marque.domain.credentials import AttemptAction
from marque.domain.errors import RateLimited
from marque.services.auth_ports import AuthRepository
from marque.services.context import AppContext


def lockout_policy(ctx: AppContext) -> LockoutPolicy:
    return LockoutPolicy(
        failures_before_lockout=ctx.settings.login_failures_before_lockout,
        lockout=timedelta(seconds=ctx.settings.lockout_seconds),
    )


def _lockout(
    repo: AuthRepository,
    policy: LockoutPolicy,
    action: AttemptAction,
    subject: str,
    client: str,
    now: datetime,
) -> RateLimited | None:
    since = now - policy.lockout
    wait = lockout_wait(
        policy,
        now=now,
        subject_failures=repo.attempts_by_subject(action, subject, since=since),
        client_failures=repo.attempts_by_client(action, client, since=since),
    )
    if wait is None:
        return None
    return RateLimited(AuthMessage.LOCKED_OUT, code=AuthErrorCode.LOCKED_OUT, retry_after=wait)


def refuse_if_locked_out(
    repo: AuthRepository,
    policy: LockoutPolicy,
    action: AttemptAction,
    subject: str,
    client: str,
    now: datetime,
) -> None:
    locked = _lockout(repo, policy, action, subject, client, now)
    if locked is not None:
        raise locked


def record_failure(
    repo: AuthRepository,
    policy: LockoutPolicy,
    action: AttemptAction,
    subject: str,
    client: str,
    now: datetime,
) -> RateLimited | None:
    """Record one failed attempt; the lockout it triggers, if any."""
    repo.record_attempt(action, subject=subject, client_ip=client, at=now)
    return _lockout(repo, policy, action, subject, client, now)
