"""Both control sockets (lan.sock, ota.sock) bind the same careful way: never steal a live one."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hub_agent.ota import control as ota_control
from hub_agent.unixsocket import ControlSocketInUse
from hub_core.errors import HubError


async def _ok(request: object) -> dict[str, object]:
    return {"ok": True}


async def test_the_update_socket_refuses_to_replace_a_live_one_or_a_plain_file(tmp_path: Path) -> None:
    path = tmp_path / ota_control.SOCKET_FILE
    first = ota_control.ControlServer(path, _ok)
    await first.start()
    try:
        with pytest.raises(ControlSocketInUse, match="already serving"):
            await ota_control.ControlServer(path, _ok).start()
    finally:
        await first.close()
    path.write_text("not a socket")
    with pytest.raises(HubError, match="is not a socket"):
        await ota_control.ControlServer(path, _ok).start()


async def test_a_stale_socket_left_by_a_crash_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "lan.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as crashed:
        crashed.bind(str(path))  # a process bound it and died: the file stays, nobody answers
    again = ota_control.ControlServer(path, _ok)
    await again.start()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    await again.close()
