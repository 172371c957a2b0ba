"""Read-back of what the sandbox adapters sent, for demos and tests (sandbox mode only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from marque.entrypoints.api.deps import ContainerDep
from marque.entrypoints.api.routers.auth import problem
from marque.services import auth as auth_service

router = APIRouter(tags=["sandbox"])


class SandboxSmsOut(BaseModel):
    phone: str
    text: str
    code: str | None = Field(description="The six-digit code found in the text, if any")
    purpose: str
    sent_at: datetime


class SandboxSmsListOut(BaseModel):
    items: list[SandboxSmsOut] = Field(description="Newest first")


@router.get(
    "/sandbox/sms",
    response_model=SandboxSmsListOut,
    summary="Text messages the sandbox SMS sender kept for a phone",
    description="Only while the server runs in sandbox mode (MARQUE_SANDBOX=true).",
    responses={
        404: problem("`sandbox.disabled`: the server is not in sandbox mode"),
        422: problem("`auth.phone_invalid`: not a mainland mobile number"),
    },
)
def sandbox_sms(
    container: ContainerDep,
    phone: Annotated[str, Query(description="Mainland mobile number, any accepted format")],
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many messages")] = 20,
) -> SandboxSmsListOut:
    messages = auth_service.sandbox_messages(container, phone, limit=limit)
    return SandboxSmsListOut(
        items=[
            SandboxSmsOut(
                phone=m.phone, text=m.text, code=m.code, purpose=m.purpose, sent_at=m.sent_at
            )
            for m in messages
        ]
    )
