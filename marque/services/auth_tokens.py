"""Tokens: issue, authenticate and revoke the opaque bearer/session tokens of signed-in actors.

A token is 256 random bits; the database keeps only its sha256. ``bearer`` tokens serve the
API (Authorization header), ``session`` tokens the pages (the ``marque_session`` cookie);
one kind is not accepted in place of the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from marque.domain.auth import (
    MAX_TOKEN_LENGTH,
    AuthErrorCode,
    AuthMessage,
    hash_token,
    new_token,
)
from marque.domain.credentials import CustomerAccount, StaffAccount, TokenKind, TokenRecord
from marque.domain.errors import Unauthenticated
from marque.domain.identity import Actor, ActorKind
from marque.services.auth_ports import AuthRepository
from marque.services.context import AppContext

SESSION_COOKIE = "marque_session"

Account = CustomerAccount | StaffAccount


@dataclass(frozen=True)
class IssuedToken:
    token: str
    kind: TokenKind
    expires_at: datetime
    actor: Actor
    account: Account


def authenticate_token(ctx: AppContext, token: str, *, kind: str = TokenKind.BEARER) -> Actor:
    """The actor a token stands for, or Unauthenticated with invalid/expired/revoked codes."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated(AuthMessage.TOKEN_INVALID, code=AuthErrorCode.TOKEN_INVALID)
    token_hash = hash_token(token)
    now = ctx.clock()
    cached = ctx.token_cache.get(kind, token_hash, now)
    if cached is not None:
        return cached
    with ctx.uow(readonly=True) as uow:
        found = uow.auth.token_and_customer(token_hash)  # a buyer's: one round trip
        if found is None or found[0].kind != TokenKind(kind):
            raise Unauthenticated(AuthMessage.TOKEN_INVALID, code=AuthErrorCode.TOKEN_INVALID)
        record, customer = found
        if record.revoked_at is not None:
            raise Unauthenticated(AuthMessage.TOKEN_REVOKED, code=AuthErrorCode.TOKEN_REVOKED)
        if record.expires_at <= now:
            raise Unauthenticated(AuthMessage.TOKEN_EXPIRED, code=AuthErrorCode.TOKEN_EXPIRED)
        account = customer or _account(uow.auth, record.actor_kind, record.actor_id)
    if isinstance(account, StaffAccount) and not account.active:
        raise Unauthenticated(AuthMessage.TOKEN_REVOKED, code=AuthErrorCode.TOKEN_REVOKED)
    actor = actor_of(account)
    ctx.token_cache.put(kind, token_hash, actor, record.expires_at)
    return actor


def cached_actor(ctx: AppContext, token: str, *, kind: str = TokenKind.BEARER) -> Actor | None:
    """The actor a token stood for if this process's cache still holds it, without any
    statement; None means "ask authenticate_token", never "signed out"."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return ctx.token_cache.get(kind, hash_token(token), ctx.clock())


def actor_from_session_cookie(ctx: AppContext, cookies: Mapping[str, str]) -> Actor | None:
    """The page session's actor; a missing or bad cookie means signed out (None), never an error."""
    token = cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return authenticate_token(ctx, token, kind=TokenKind.SESSION)
    except Unauthenticated:
        return None


def revoke_token(ctx: AppContext, token: str) -> bool:
    """Sign out: the token stops working at once. True if it was live until now."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    token_hash = hash_token(token)
    with ctx.uow() as uow:
        revoked = uow.auth.revoke_token(token_hash, at=ctx.clock())
        uow.commit()
    for kind in TokenKind:
        ctx.token_cache.drop(kind, token_hash)
    return revoked


def account_of(ctx: AppContext, actor: Actor) -> Account:
    """The customer or staff account behind a signed-in actor (for ``/me`` and the pages)."""
    if actor.id is None or actor.kind not in (ActorKind.CUSTOMER, ActorKind.STAFF):
        raise Unauthenticated()
    with ctx.uow(readonly=True) as uow:
        return _account(uow.auth, actor.kind, actor.id)


def actor_of(account: Account) -> Actor:
    if isinstance(account, CustomerAccount):
        return Actor(ActorKind.CUSTOMER, id=account.id, display_name=account.phone_masked)
    return Actor(
        ActorKind.STAFF, id=account.id, roles=account.roles, display_name=account.display_name
    )


def issue_token(
    ctx: AppContext,
    repo: AuthRepository,
    account: Account,
    kind: TokenKind,
    client: str,
    now: datetime,
) -> IssuedToken:
    token = new_token()
    expires_at = now + timedelta(seconds=ctx.settings.token_ttl_seconds)
    actor = actor_of(account)
    repo.add_token(
        TokenRecord(
            token_hash=hash_token(token),
            kind=kind,
            actor_kind=actor.kind,
            actor_id=account.id,
            created_at=now,
            expires_at=expires_at,
            client_ip=client,
        )
    )
    return IssuedToken(token=token, kind=kind, expires_at=expires_at, actor=actor, account=account)


def _account(repo: AuthRepository, kind: ActorKind, actor_id: str) -> Account:
    found: Account | None
    found = repo.customer(actor_id) if kind is ActorKind.CUSTOMER else repo.staff(actor_id)
    if found is None:
        raise Unauthenticated(AuthMessage.ACCOUNT_NOT_FOUND, code=AuthErrorCode.ACCOUNT_NOT_FOUND)
    return found
