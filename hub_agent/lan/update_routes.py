"""The LAN API's update routes (CONTRACT 9.3): `GET /api/v1/update`, `POST /api/v1/update/check|install`.

They talk to the OTA part through `runtime.facts["ota_service"]` (set by the agent wiring only when
`[ota]` is configured), so the LAN API never imports the update machinery. Answers: the status object,
202 with it when a check or install starts, 404 `not_configured` without `[ota]`, 409 `busy` while an
update runs, 422 for a bad body or a version that is not on offer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from hub_agent.ota.errors import OtaError
from hub_agent.runtime import Runtime

API = "/api/v1"
#: The install body is `{"version": "..."}`; anything longer is not one.
MAX_BODY = 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class UpdateControl(Protocol):
    """What the routes need from the OTA part (hub_agent.ota.service.OtaService)."""

    def status(self) -> dict[str, Any]:
        """The status object."""

    def start_check(self, *, install: bool = False) -> dict[str, Any]:
        """Start a check; raise OtaError (UpdateBusy) if one is running."""

    def start_install(self, version: str | None) -> dict[str, Any]:
        """Start an install; raise OtaError if busy or the version is malformed."""


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


class BodyError(ValueError):
    """A bad install body: the HTTP status, error code and sentence to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def parse_install_body(raw: bytes) -> str | None:
    """The version asked for (None: the newest offered); raise BodyError for anything else."""
    if len(raw) > MAX_BODY:
        raise BodyError(413, "too_large", f"the body must be at most {MAX_BODY} bytes")
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError:  # includes bad UTF-8
        raise BodyError(400, "bad_request", "the body is not JSON") from None
    if not isinstance(body, dict) or set(body) - {"version"}:
        raise BodyError(422, "invalid", 'the body must be {"version": "<semver>"}')
    version = body.get("version")
    if version is not None and not isinstance(version, str):
        raise BodyError(422, "invalid", "version must be a string")
    return version


class UpdateRoutes:
    """The three handlers; `table()` lists them as (method, path, handler, name)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def table(self) -> list[tuple[str, str, Handler, str]]:
        """The routes, for LanApi.routes()."""
        return [
            ("GET", f"{API}/update", self.get, "update"),
            ("POST", f"{API}/update/check", self.check, "update_check"),
            ("POST", f"{API}/update/install", self.install, "update_install"),
        ]

    def _service(self) -> UpdateControl | None:
        service: UpdateControl | None = self.runtime.facts.get("ota_service")
        return service

    async def get(self, request: web.Request) -> web.StreamResponse:
        """The update status."""
        service = self._service()
        if service is None:
            return _not_configured()
        return web.json_response(service.status())

    async def check(self, request: web.Request) -> web.StreamResponse:
        """Start a check; 202 with the status."""
        service = self._service()
        if service is None:
            return _not_configured()
        try:
            return web.json_response(service.start_check(), status=202)
        except OtaError as exc:
            return _error(409, "busy", str(exc))

    async def install(self, request: web.Request) -> web.StreamResponse:
        """Start installing `{"version"}` (or the newest offer with an empty body); 202 with the status."""
        service = self._service()
        if service is None:
            return _not_configured()
        try:
            version = parse_install_body(await request.content.read(MAX_BODY + 1))
        except BodyError as exc:
            return _error(exc.status, exc.code, str(exc))
        try:
            return web.json_response(service.start_install(version), status=202)
        except OtaError as exc:
            busy = type(exc).__name__ == "UpdateBusy"
            return _error(409 if busy else 422, "busy" if busy else "invalid", str(exc))


def _not_configured() -> web.Response:
    return _error(404, "not_configured", "over-the-air updates are not configured (no [ota] section)")
