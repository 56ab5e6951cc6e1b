"""The LAN API's error answer: an exception handlers raise and the JSON body it becomes.

Its own module so the route modules (`api`, `access`) can raise it without importing each other.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ApiError(Exception):
    """An error answer: HTTP status, machine code, human sentence, extra JSON fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """A JSON error response."""
    return web.json_response({"error": code, "message": message, **extra}, status=status)
