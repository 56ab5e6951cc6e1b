"""The cloud link end to end against the dev relay over real mutual TLS on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from test_cloud_harness import (
    HUB_ID,
    build_agent,
    next_events,
    pki_for,
    relay_for,
    running,
    write_config,
)


async def test_connects_uploads_events_and_runs_commands(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        config = write_config(tmp_path, pki_paths, relay.url)
        agent = await build_agent(config)
        async with running(agent):
            await agent.connected()
            hub = await relay.wait_connected(HUB_ID)
            assert hub.hello.version == "0.1.0-test"
            # The 7 devices joined before the link ran: their device_added events are in the outbox.
            events = await next_events(relay, 7 + 0)
            assert [e["seq"] for e in events] == list(range(1, 8))
            result = await relay.send_command("zwave-2", "on")
            assert result.status == "ok", result
            assert result.ms >= 0
            state = await next_events(relay, 2)
            assert {(e["attribute"], e["value"]) for e in state} == {("switch", "on"), ("power", 42.0)}
