"""The LAN API's BLE route (CONTRACT 9.3): `POST /api/v1/devices/{id}/key` `{"key": "<32 hex>"}`.

Sets the BTHome bindkey of an encrypted BLE device. The BLE radio checks the key against the device's
last advertisement before storing it (0600, in its data directory), so a wrong key is a 422 at once,
not a silent failure later. Answers: 200 `{"status":"ok","device","needs_key"}`; 404 unknown device;
422 bad body, not an encrypted BLE device, or wrong key (`"error":"wrong_key"`); 503 no BLE radio.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub_agent.lan.errors import ApiError
from hub_agent.runtime import Runtime
from hub_core.errors import CommandError, InvalidCommand, RadioUnavailable, UnknownDevice
from hub_core.model import DeviceId, Protocol
from radios.ble.keys import BindkeyTarget, WrongKey, parse_key

API = "/api/v1"
#: `{"key": "<32 hex>"}` is 43 bytes; anything much longer is not one
MAX_BODY = 256

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BleRoutes:
    """The key handler; `table()` lists it as (method, path, handler, name)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def table(self) -> list[tuple[str, str, Handler, str]]:
        """The routes, for LanApi.routes()."""
        return [("POST", f"{API}/devices/{{id}}/key", self.set_key, "device_key")]

    async def set_key(self, request: web.Request) -> web.StreamResponse:
        """Store and use the bindkey of an encrypted BTHome device."""
        device_id = request.match_info["id"]
        key = parse_key_body(await request.content.read(MAX_BODY + 1))
        hub = self.runtime.hub
        device = hub.device(device_id)
        if device is None:
            raise ApiError(404, "unknown_device", f"no device {device_id!r}")
        if device.protocol is not Protocol.BLE:
            raise ApiError(422, "invalid", f"{device_id} is not a BLE device; only BTHome devices take a key")
        try:
            radio = hub.radio_for(Protocol.BLE)
        except RadioUnavailable as exc:
            raise ApiError(503, exc.code, str(exc)) from None
        if not isinstance(radio, BindkeyTarget):
            raise ApiError(503, "unavailable", "the BLE radio of this hub takes no keys")
        try:
            await radio.set_bindkey(DeviceId(device_id), key)
        except WrongKey as exc:
            raise ApiError(422, "wrong_key", str(exc), field="key") from None
        except UnknownDevice as exc:
            raise ApiError(404, "unknown_device", str(exc)) from None
        except InvalidCommand as exc:
            raise ApiError(422, "invalid", str(exc)) from None
        except CommandError as exc:
            raise ApiError(503, exc.code, str(exc)) from None
        except OSError as exc:  # the key file could not be written
            raise ApiError(
                503, "unavailable", f"the key could not be stored: {exc.strerror or exc}"
            ) from None
        now = hub.device(device_id)
        return web.json_response(
            {"status": "ok", "device": device_id, "needs_key": bool(now is not None and now.needs_key)}
        )


def parse_key_body(raw: bytes) -> bytes:
    """The key from a `{"key": "<32 hex>"}` body, or ApiError 413/400/422 naming the problem."""
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"the body must be at most {MAX_BODY} bytes")
    try:
        body: Any = json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_request", 'the body is not JSON; send {"key": "<32 hex digits>"}') from None
    if not isinstance(body, dict) or set(body) != {"key"}:
        raise ApiError(422, "invalid", 'the body must be {"key": "<32 hex digits>"}', field="key")
    try:
        return parse_key(body["key"])
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc), field="key") from None
