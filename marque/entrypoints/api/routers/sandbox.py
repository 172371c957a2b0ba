"""Placeholder: filled in by the sandbox work."""

from fastapi import APIRouter

router = APIRouter(tags=["sandbox"])
