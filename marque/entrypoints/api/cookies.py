"""Reading a request's ``Cookie`` header in the pure ASGI middlewares, which run before
Starlette's ``Request`` exists (and must stay cheap: they see every request)."""

from __future__ import annotations

from collections.abc import Collection


def cookie_values(header: str, names: Collection[str]) -> dict[str, str]:
    """The values of the cookies ``names`` in a ``Cookie`` header (the first of each name;
    empty values skipped). ``"a=1; b=2"`` with ``{"b"}`` gives ``{"b": "2"}``."""
    found: dict[str, str] = {}
    if not header:
        return found
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if value and key in names and key not in found:
            found[key] = value
    return found


__all__ = ["cookie_values"]
