"""Placeholder: server-rendered pages are installed here."""

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    return None
