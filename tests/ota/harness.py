"""Helpers for OTA agent tests: a config with [ota], an agent "boot", waiting for an update state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from hub_agent.agent import Agent
from hub_agent.config import load_config
from hub_agent.ota.service import OtaService
from hub_core.model import HubEvent, UpdateProgress


def write_config(folder: Path, repository: str, root: bytes, ca: Path, **ota: object) -> Path:
    """A hub.toml with [hub] data_dir and [ota] backend = "dir" (plus `ota` overrides)."""
    folder.mkdir(parents=True, exist_ok=True)
    root_file = folder / "tuf-root.json"
    root_file.write_bytes(root)
    settings: dict[str, object] = {
        "repository": repository,
        "root": str(root_file),
        "ca": str(ca),
        "backend": "dir",
        "health_window": 10,
        **ota,
    }
    lines = ["[hub]", f'data_dir = "{folder / "data"}"', "[ota]"]
    for key, value in settings.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    path = folder / "hub.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@asynccontextmanager
async def booted(config_path: Path) -> AsyncIterator[tuple[Agent, OtaService]]:
    """One "boot" of the hub: the agent started from the config (dir backend boot step included)."""
    agent = Agent(load_config(config_path))
    try:
        await agent.start()
        service = agent.parts["ota"]
        assert isinstance(service, OtaService)
        yield agent, service
    finally:
        await agent.stop()


async def wait_status(
    service: OtaService, done: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> dict[str, Any]:
    """Wait until the update status satisfies `done` (checked now and on every update event)."""
    reached: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def on_event(event: HubEvent) -> None:
        if isinstance(event, UpdateProgress) and done(event.status) and not reached.done():
            reached.set_result(event.status)

    remove = service.runtime.bus.add_handler(on_event)
    try:
        if done(service.status()):
            return service.status()
        async with asyncio.timeout(timeout):
            return await reached
    finally:
        remove()
