"""A hostile or broken cloud (issue 15): bad seqs, request floods, bursts that used to go unanswered.

The cloud is the dev relay over real mutual TLS on 127.0.0.1, driven to misbehave; the agent core is
real (store, bus, hub, link, rules engine). Every request must get exactly one answer, the seq must
never jump past what the hub issued, and a flood must cost a bounded number of log lines.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_cloud_harness import (
    HUB_ID,
    ScaledClock,
    build_agent,
    next_events,
    next_message,
    pki_for,
    relay_for,
    running,
    write_config,
)

from hub_agent.cloud import pki
from hub_agent.cloud.devcloud import DevRelay
from hub_agent.cloud.link import LinkState
from hub_agent.cloud.protocol import (
    Ack,
    Certificate,
    CertStatus,
    CommandResultMessage,
    ErrorMessage,
    RulesPut,
    RulesResult,
    SnapshotRequest,
)
from hub_agent.rules.service import RulesService

TOP = 2**63 - 1


async def drain(relay: DevRelay, kind: str, count: int, timeout: float = 30) -> list[Any]:
    """The next `count` messages of type `kind` (others skipped)."""
    return [await next_message(relay, kind, timeout) for _ in range(count)]


async def test_a_welcome_beyond_the_hubs_last_seq_is_refused_and_the_seq_never_jumps(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with relay_for(paths) as relay:
        relay.acked[HUB_ID] = relay.last_seq[HUB_ID] = TOP
        agent = await build_agent(write_config(tmp_path, paths, relay.url))
        async with running(agent):
            refused = await next_message(relay, "error")
            assert isinstance(refused, ErrorMessage)
            assert (refused.error, refused.in_reply_to) == ("bad_seq", "welcome")
            assert f"{TOP} is beyond the last seq this hub issued (7)" in refused.message
            async with asyncio.timeout(10):
                await agent.link.wait_for(LinkState.BACKOFF)
            assert "beyond the last seq" in agent.link.status["last_error"]
            assert agent.link.outbox.next_seq == 8
            # The cloud fixes its record of this hub: the hub's own numbering goes on, from 1.
            relay.acked[HUB_ID] = relay.last_seq[HUB_ID] = 0
            await agent.connected()
            events = await next_events(relay, 7)
            assert [e["seq"] for e in events] == list(range(1, 8))
            assert (await relay.send_command("zwave-2", "on")).status == "ok"
            assert [e["seq"] for e in await next_events(relay, 2)] == [8, 9]


async def test_an_ack_beyond_what_was_sent_drops_the_connection_not_the_events(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with relay_for(paths, auto_ack=False) as relay:
        agent = await build_agent(write_config(tmp_path, paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await next_events(relay, 7)
            await relay.send(Ack(TOP))
            refused = await next_message(relay, "error")
            assert refused.error == "bad_seq" and str(TOP) in refused.message
            async with asyncio.timeout(10):
                await agent.link.wait_for(LinkState.BACKOFF)
            # Nothing was forgotten: the unacknowledged events are still on disk and resent.
            assert agent.link.outbox.count == 7 and agent.link.outbox.acked_seq == 0
            await agent.connected()
            await relay.wait_connected()
            assert relay.duplicates == 0  # the relay drops resends it already holds, and counts them
            assert (await relay.send_command("zwave-2", "on")).status == "ok"
            assert [e["seq"] for e in await next_events(relay, 2)] == [8, 9]
            assert relay.duplicates == 7


async def test_a_burst_of_rules_puts_gets_one_answer_each(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with relay_for(paths) as relay:
        agent = await build_agent(write_config(tmp_path, paths, relay.url))
        service = RulesService(agent.runtime)
        service.load()
        agent.runtime.rules = service
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await next_events(relay, 7)
            for n in range(200):
                rule = {
                    "id": f"r{n}",
                    "triggers": [
                        {"type": "state", "device": "zwave-4", "attribute": "motion", "to": "active"}
                    ],
                    "actions": [{"type": "command", "device": "zwave-2", "command": "on"}],
                }
                await relay.send(RulesPut(rule, f"put-{n}"))
            answers = await drain(relay, "rules_result", 200)
            assert all(isinstance(a, RulesResult) for a in answers)
            assert Counter(a.request_id for a in answers) == Counter(f"put-{n}" for n in range(200))
            ok = [a for a in answers if a.status == "ok"]
            assert {a.error for a in answers if a.status == "error"} <= {"busy"}
            assert len(ok) == len(service.list_rules()) >= 1


async def test_a_certificate_during_a_snapshot_flood_is_answered(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with relay_for(paths) as relay:
        agent = await build_agent(write_config(tmp_path, paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await next_events(relay, 7)
            for _ in range(150):
                await relay.send(SnapshotRequest())
            await relay.send(Certificate(pki.pem(pki.load_certificate(paths.ca_cert)).decode()))
            seen: Counter[str] = Counter()
            status = None
            async with asyncio.timeout(30):
                while status is None or seen["state_snapshot"] + seen["busy"] < 150:
                    _, message = await relay.messages.get()
                    if isinstance(message, CertStatus):
                        status = message
                    elif isinstance(message, ErrorMessage):
                        assert message.in_reply_to == "snapshot_request", message
                        seen[message.error] += 1
                    else:
                        seen[message.type.value] += 1
            assert status.status == "rejected" and status.error  # the CA's cert is not the hub's
            # Snapshots are built one at a time; a request while one is on its way is told so.
            assert seen["state_snapshot"] + seen["busy"] == 150, seen
            assert seen["state_snapshot"] >= 1 and seen["busy"] >= 1, seen
            assert set(seen) <= {"state_snapshot", "busy", "hello"}, seen


async def test_a_command_flood_is_answered_once_each_with_a_bounded_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = pki_for(tmp_path)
    count = 20_000
    async with relay_for(paths) as relay:
        # Real time, so the request rate limit means what it says.
        agent = await build_agent(write_config(tmp_path, paths, relay.url), clock=ScaledClock(1.0))
        with caplog.at_level(logging.INFO):
            async with running(agent):
                await agent.connected()
                await relay.wait_connected()
                await next_events(relay, 7)
                hub = relay.hubs[HUB_ID]
                for n in range(count):
                    command = "on" if n % 2 else "off"
                    await hub.ws.send(
                        f'{{"type":"command","id":"f-{n}","device":"zwave-2","command":"{command}"}}'
                    )
                answers = await drain(relay, "command_result", count, timeout=120)
        assert all(isinstance(a, CommandResultMessage) for a in answers)
        assert Counter(a.id for a in answers) == Counter(f"f-{n}" for n in range(count))
        outcomes = Counter(a.error or a.status for a in answers)
        assert set(outcomes) <= {"ok", "busy", "rate_limited"}
        assert outcomes["rate_limited"] > count // 2
        assert 1 <= outcomes["ok"] < count // 4
        refused = agent.link.requests.refused
        assert refused.get("rate_limited", 0) + refused.get("busy", 0) == count - outcomes["ok"]
    # One line (or a handful) about the flood, not one per command.
    cloud_lines = [r for r in caplog.records if r.name.startswith("hub_agent.cloud")]
    assert len(cloud_lines) < 60, Counter(r.getMessage()[:60] for r in cloud_lines).most_common(5)
