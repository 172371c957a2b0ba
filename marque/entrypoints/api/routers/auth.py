"""Sign-in over the API: SMS codes for customers, passwords for staff, bearer tokens.

Wrong and expired codes are 401 (``auth.code_invalid`` / ``auth.code_expired``), malformed
phone numbers 422 (``auth.phone_invalid``), too many codes or failures 429 with
``Retry-After`` (``auth.rate_limited`` / ``auth.locked_out``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from marque.domain.credentials import CustomerAccount
from marque.domain.errors import Unauthenticated
from marque.domain.identity import Role
from marque.entrypoints.api.deps import ActorDep, ContainerDep, TranslatorDep, bearer_token
from marque.entrypoints.api.problems import PROBLEM_JSON
from marque.services import auth as auth_service

router = APIRouter(tags=["auth"])


class Problem(BaseModel):
    """RFC 9457 problem details as marque renders them."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code, e.g. auth.code_invalid")
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    params: dict[str, Any] | None = None


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for a problem+json answer."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
    }


class SmsCodeRequest(BaseModel):
    phone: str = Field(
        description="Mainland mobile number; spaces, dashes and +86 are accepted",
        examples=["+86 139 1234 5678"],
    )


class SmsCodeSentOut(BaseModel):
    phone: str = Field(description="The number the code went to, normalised to 11 digits")
    phone_masked: str = Field(examples=["139****5678"])
    expires_in: int = Field(description="Seconds the code stays valid")
    resend_after: int = Field(description="Seconds before another code may be requested")


class SmsLoginRequest(BaseModel):
    phone: str = Field(examples=["13912345678"])
    code: str = Field(max_length=32, description="The six digits from the SMS", examples=["004213"])


class StaffLoginRequest(BaseModel):
    username: str = Field(max_length=64, examples=["alice"])
    password: str = Field(max_length=1024)


class CustomerActorOut(BaseModel):
    kind: Literal["customer"] = "customer"
    id: str
    phone_masked: str


class StaffActorOut(BaseModel):
    kind: Literal["staff"] = "staff"
    id: str
    username: str
    display_name: str
    roles: list[Role]


ActorOut = Annotated[CustomerActorOut | StaffActorOut, Field(discriminator="kind")]


class TokenOut(BaseModel):
    access_token: str = Field(description="Opaque; send as `Authorization: Bearer <token>`")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    actor: ActorOut


def actor_out(account: auth_service.Account) -> CustomerActorOut | StaffActorOut:
    if isinstance(account, CustomerAccount):
        return CustomerActorOut(id=account.id, phone_masked=account.phone_masked)
    return StaffActorOut(
        id=account.id,
        username=account.username,
        display_name=account.display_name,
        roles=sorted(account.roles),
    )


def token_out(issued: auth_service.IssuedToken) -> TokenOut:
    return TokenOut(
        access_token=issued.token, expires_at=issued.expires_at, actor=actor_out(issued.account)
    )


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/auth/sms-code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SmsCodeSentOut,
    summary="Send a sign-in code by SMS",
    description="Rate-limited per phone (resend interval, hourly allowance) and per client address.",
    responses={
        422: problem(
            "`auth.phone_invalid`: not a mainland mobile number; `request.invalid`: bad body"
        ),
        429: problem("`auth.rate_limited`: too many codes; see Retry-After"),
        503: problem("`auth.sms_unavailable`: the SMS provider failed"),
    },
)
def request_sms_code(
    body: SmsCodeRequest, request: Request, container: ContainerDep, translator: TranslatorDep
) -> SmsCodeSentOut:
    sent = auth_service.request_sms_code(
        container, body.phone, client_ip(request), translator.locale
    )
    return SmsCodeSentOut(
        phone=sent.phone,
        phone_masked=sent.phone_masked,
        expires_in=sent.expires_in,
        resend_after=sent.resend_after,
    )


@router.post(
    "/auth/login",
    response_model=TokenOut,
    summary="Sign in a customer with phone and SMS code",
    description="The first successful sign-in of a phone number creates the customer account.",
    responses={
        401: problem("`auth.code_invalid`: wrong or used code; `auth.code_expired`: expired code"),
        422: problem("`auth.phone_invalid` or `request.invalid`"),
        429: problem("`auth.locked_out`: too many wrong codes for this phone or address"),
    },
)
def login(body: SmsLoginRequest, request: Request, container: ContainerDep) -> TokenOut:
    issued = auth_service.login_with_sms(container, body.phone, body.code, client_ip(request))
    return token_out(issued)


@router.post(
    "/auth/staff/login",
    response_model=TokenOut,
    summary="Sign in a staff member with username and password",
    responses={
        401: problem("`auth.credentials_invalid`: wrong username or password"),
        422: problem("`request.invalid`: bad body"),
        429: problem("`auth.locked_out`: too many failures for this username or address"),
    },
)
def staff_login(body: StaffLoginRequest, request: Request, container: ContainerDep) -> TokenOut:
    issued = auth_service.login_staff(container, body.username, body.password, client_ip(request))
    return token_out(issued)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Sign out: revoke the bearer token of this request",
    responses={
        401: problem(
            "No bearer token, or `auth.token_invalid` / `auth.token_expired` / `auth.token_revoked`"
        ),
    },
)
def logout(request: Request, container: ContainerDep) -> Response:
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated()
    auth_service.authenticate_token(container, token)
    auth_service.revoke_token(container, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    response_model=ActorOut,
    summary="Who is signed in",
    responses={
        401: problem(
            "Not signed in, or `auth.token_invalid` / `auth.token_expired` / `auth.token_revoked`"
        ),
    },
)
def me(actor: ActorDep, container: ContainerDep) -> CustomerActorOut | StaffActorOut:
    return actor_out(auth_service.account_of(container, actor))
