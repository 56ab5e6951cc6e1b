"""The proof a freshly booted slot must give within the health window (CONTRACT 9.4).

Healthy means: the store answers a read, every configured radio was built and is running (the radios
answer), the LAN API listens if configured (local control), and the cloud link is connected if
configured. `failures()` lists what is not there yet, in words, so a rollback says why.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hub_agent.runtime import Runtime
from radios.base import Radio, RadioState

#: Seconds one store read may take before the store counts as not answering.
STORE_TIMEOUT = 5.0


def _ping(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM devices").fetchone()[0])


@dataclass(slots=True)
class HealthProbe:
    """Checks one running agent; built by the agent wiring from its parts."""

    runtime: Runtime
    #: configured radio protocol names -> the built radio, or None when it could not even be built
    radios: Mapping[str, Radio | None] = field(default_factory=dict)
    lan_listening: Callable[[], bool] | None = None

    async def failures(self) -> list[str]:
        """What is not healthy yet; [] means healthy."""
        out: list[str] = []
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                await self.runtime.db.read(_ping)
        except (TimeoutError, sqlite3.Error, OSError) as exc:
            out.append(f"store does not answer ({type(exc).__name__})")
        for name, radio in sorted(self.radios.items()):
            if radio is None:
                out.append(f"{name} radio could not be built")
            elif radio.state is not RadioState.RUNNING:
                out.append(f"{name} radio is {radio.state.value}")
        if self.lan_listening is not None and not self.lan_listening():
            out.append("LAN API is not listening")
        if self.runtime.config.cloud is not None:
            state = self.runtime.facts.get("cloud", {}).get("state")
            if state != "connected":
                out.append(f"cloud link is {state or 'not started'}")
        return out
