"""The LAN API's Z-Wave security route (CONTRACT 9.3): `POST /api/v1/inclusion/pin` `{"pin": "12345"}`.

A node asking for S2 Authenticated or Access Control needs the 5-digit PIN printed with its DSK; the
hub announces the need as an events message `{"type":"inclusion","state":"pin_required","device","dsk"}`
(DSK with its first 5 digits hidden). Answers: 200 `{"status":"ok"}`; 413 body over 256 bytes; 400 not
JSON; 422 not exactly 5 digits, or no node waiting for a PIN; 503 no Z-Wave radio (or one without S2).
A wrong PIN is not detectable here: the key exchange then fails and the event stream says why.
Also `security_option()`: the `"security": "auto" | "none"` of `POST /api/v1/inclusion`; and the SmartStart
provisioning list: `GET /api/v1/zwave/provisioning` -> `{"entries": [{"dsk","name",...}],
"smart_start": bool}` (true while the stick listens for provisioned nodes announcing themselves), `POST` with
`{"qr": "90..."}` or `{"dsk": "12345-...", "name"?}` -> 201 entry (422 naming a bad QR code or DSK),
`DELETE /api/v1/zwave/provisioning/{dsk}` -> 200, 404 if absent. A provisioned node joins without a PIN,
by itself (SmartStart: an events message `{"type":"inclusion","state":"smart_start","device","dsk"}`) or
by classic inclusion.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from hub_agent.lan.errors import ApiError
from hub_agent.runtime import Runtime
from hub_core.errors import InvalidCommand, RadioUnavailable
from hub_core.model import Protocol
from radios.zwave.security.target import PinTarget, ProvisioningTarget

API = "/api/v1"
MAX_BODY = 256  # {"pin": "12345"} is 16 bytes
MAX_PROVISIONING_BODY = 8192  # a QR code string is at most 4096 digits

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class InclusionRoutes:
    """The PIN handler; `table()` lists it as (method, path, handler, name)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def table(self) -> list[tuple[str, str, Handler, str]]:
        """The routes, for LanApi.routes()."""
        return [
            ("POST", f"{API}/inclusion/pin", self.enter_pin, "inclusion_pin"),
            ("GET", f"{API}/zwave/provisioning", self.list_provisioning, "zwave_provisioning"),
            ("POST", f"{API}/zwave/provisioning", self.add_provisioning, "zwave_provisioning_add"),
            (
                "DELETE",
                f"{API}/zwave/provisioning/{{dsk}}",
                self.remove_provisioning,
                "zwave_provisioning_delete",
            ),
        ]

    def _provisioning(self) -> ProvisioningTarget:
        try:
            radio = self.runtime.hub.radio_for(Protocol.ZWAVE)
        except RadioUnavailable as exc:
            raise ApiError(503, exc.code, str(exc)) from None
        if not isinstance(radio, ProvisioningTarget):
            raise ApiError(503, "unavailable", "the Z-Wave radio of this hub has no provisioning list")
        return radio

    async def list_provisioning(self, request: web.Request) -> web.StreamResponse:
        """The SmartStart provisioning list, and whether the stick listens for its nodes."""
        target = self._provisioning()
        return web.json_response(
            {"entries": target.provisioning_entries(), "smart_start": target.smart_start_listening()}
        )

    async def add_provisioning(self, request: web.Request) -> web.StreamResponse:
        """Register a node by `{"qr": "90..."}` or `{"dsk": "12345-...", "name"?}`: 201 with the entry."""
        raw = await request.content.read(MAX_PROVISIONING_BODY + 1)
        if len(raw) > MAX_PROVISIONING_BODY:
            raise ApiError(413, "too_large", f"the body must be at most {MAX_PROVISIONING_BODY} bytes")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "bad_json", "the body must be JSON") from None
        if (
            not isinstance(data, dict)
            or not set(data) <= {"qr", "dsk", "name"}
            or ("qr" in data) == ("dsk" in data)
        ):
            raise ApiError(422, "invalid", 'the body must be {"qr": "..."} or {"dsk": "...", "name"?: "..."}')
        values = {k: data[k] for k in ("qr", "dsk", "name") if k in data}
        if not all(isinstance(v, str) for v in values.values()):
            raise ApiError(422, "invalid", "qr, dsk and name must be strings")
        try:
            entry = await self._provisioning().provision(
                qr=values.get("qr"), dsk=values.get("dsk"), name=values.get("name", "")
            )
        except InvalidCommand as exc:
            raise ApiError(422, "invalid", str(exc), field="qr" if "qr" in data else "dsk") from None
        return web.json_response(entry, status=201)

    async def remove_provisioning(self, request: web.Request) -> web.StreamResponse:
        """Remove a provisioning entry by its DSK."""
        dsk = request.match_info["dsk"]
        if not await self._provisioning().unprovision(dsk):
            raise ApiError(404, "not_found", f"no provisioning entry for DSK {dsk!r}")
        return web.json_response({"status": "ok"})

    def _target(self) -> PinTarget:
        try:
            radio = self.runtime.hub.radio_for(Protocol.ZWAVE)
        except RadioUnavailable as exc:
            raise ApiError(503, exc.code, str(exc)) from None
        if not isinstance(radio, PinTarget):
            raise ApiError(503, "unavailable", "the Z-Wave radio of this hub runs without S2 security")
        return radio

    async def enter_pin(self, request: web.Request) -> web.StreamResponse:
        """Hand the joining node's DSK PIN to the key exchange waiting for it."""
        pin = parse_pin_body(await request.content.read(MAX_BODY + 1))
        try:
            self._target().enter_pin(pin)
        except InvalidCommand as exc:
            raise ApiError(422, "invalid", str(exc), field="pin") from None
        return web.json_response({"status": "ok"})

    def security_option(self, protocol: Protocol, value: object) -> None:
        """Apply `"security"` of an inclusion request (Z-Wave only; absent = "auto"); ApiError 422 if bad."""
        if value is None:
            # Each inclusion starts from the default; a radio without S2 has nothing to set.
            try:
                radio = self.runtime.hub.radio_for(protocol)
            except RadioUnavailable:
                return
            if isinstance(radio, PinTarget):
                radio.set_security_policy("auto")
            return
        if protocol is not Protocol.ZWAVE:
            raise ApiError(422, "invalid", "security applies to Z-Wave inclusion only", field="security")
        if value not in ("auto", "none"):
            raise ApiError(422, "invalid", 'security must be "auto" or "none"', field="security")
        try:
            radio = self.runtime.hub.radio_for(protocol)
        except RadioUnavailable as exc:
            raise ApiError(503, exc.code, str(exc)) from None
        if isinstance(radio, PinTarget):
            radio.set_security_policy(str(value))
        # A radio without S2 (the simulated stick) includes without security, which is what "none"
        # asks for and what "auto" means when S2 is not available: both are accepted.


def parse_pin_body(raw: bytes) -> str:
    """The PIN from a `{"pin": "12345"}` body, or ApiError 413/400/422 naming the problem."""
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"the body must be at most {MAX_BODY} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_json", "the body must be JSON") from None
    if not isinstance(data, dict) or set(data) != {"pin"}:
        raise ApiError(422, "invalid", 'the body must be {"pin": "<5 digits>"}', field="pin")
    pin = data["pin"]
    if (
        not isinstance(pin, str)
        or len(pin) != 5
        or not pin.isascii()
        or not pin.isdigit()
        or int(pin) > 0xFFFF
    ):
        raise ApiError(422, "invalid", "pin must be a string of 5 digits, 00000-65535", field="pin")
    return pin
