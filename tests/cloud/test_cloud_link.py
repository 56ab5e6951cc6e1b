"""The cloud link end to end against the dev relay over real mutual TLS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

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

from hub_agent.cloud.link import LinkState
from hub_agent.cloud.protocol import MAX_MESSAGE_BYTES, CommandMessage, ErrorMessage, Welcome
from hub_agent.rules.service import RulesService
from hub_agent.store.settings import get_setting
from hub_core.errors import RuleError, RuleProblem
from hub_core.model import Command, DeviceId, JSONObject
from radios.sim.household import SimRadio


async def test_connects_uploads_events_and_runs_commands(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        config = write_config(tmp_path, pki_paths, relay.url)
        agent = await build_agent(config)
        async with running(agent):
            await agent.connected()
            hub = await relay.wait_connected(HUB_ID)
            assert hub.hello.version == "0.1.0-test"
            assert hub.hello.boot_id == agent.runtime.boot_id
            # The 7 devices joined after the link was built, before it ran: all queued, in order.
            events = await next_events(relay, 7)
            assert [e["seq"] for e in events] == list(range(1, 8))
            assert {e["type"] for e in events} == {"device_added"}
            result = await relay.send_command("zwave-2", "on")
            assert result.status == "ok", result
            assert 0 <= result.ms < 5000
            state = await next_events(relay, 2)
            assert {(e["attribute"], e["value"]) for e in state} == {("switch", "on"), ("power", 42.0)}
            assert [e["seq"] for e in state] == [8, 9]
            # The status is in the store for `hub-agent info` and in the runtime facts.
            status = await agent.runtime.db.read(lambda c: get_setting(c, "cloud.status"))
            assert status["state"] == "connected" and status["last_error"] is None
            assert status["cert_not_after"].endswith("Z")
            assert agent.runtime.facts["cloud"]["state"] == "connected"


async def test_command_errors_carry_the_hub_error_code(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            unknown = await relay.send_command("zwave-99", "on")
            assert (unknown.status, unknown.error) == ("error", "unknown_device")
            assert "zwave-99" in (unknown.message or "")
            invalid = await relay.send_command("zwave-3", "set_level", {"level": 140})
            assert (invalid.status, invalid.error) == ("error", "invalid_command")
            assert "at most 100" in (invalid.message or "")
            agent.radio.devices[DeviceId("zwave-5")].reachable = False
            failed = await relay.send_command("zwave-5", "unlock")
            assert (failed.status, failed.error) == ("error", "delivery_failed")


async def test_duplicate_command_ids_run_once_even_across_restarts(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        config = write_config(tmp_path, pki_paths, relay.url)
        agent = await build_agent(config)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            # Twice back to back (the second may arrive while the first runs) and once afterwards.
            frame = json.dumps({"type": "command", "id": "c-1", "device": "zwave-2", "command": "toggle"})
            await relay.send_raw(frame)
            await relay.send_raw(frame)
            first = await next_message(relay, "command_result")
            second = await next_message(relay, "command_result")
            third = await relay.send_command("zwave-2", "toggle", command_id="c-1")
            assert first == second == third and first.status == "ok"
            assert [c.name for c in agent.radio.commands] == ["toggle"]
            assert agent.link.commands.duplicates == 2
        # A new agent process on the same store: the id is still known and still not re-run.
        agent = await build_agent(config, devices=False)
        agent.radio.devices = {}
        async with running(agent):
            await agent.connected()
            hub = await relay.wait_connected()
            assert hub.hello.last_command_id == "c-1"
            again = await relay.send_command("zwave-2", "toggle", command_id="c-1")
            assert again == first
            assert agent.radio.commands == []


async def test_expired_commands_are_answered_and_not_run(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    clock = ScaledClock()
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url), clock=clock)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            expired = await relay.send_command("zwave-2", "on", expires_at=clock.time() - 1)
            assert (expired.status, expired.error) == ("error", "expired")
            fresh = await relay.send_command("zwave-2", "on", expires_at=clock.time() + 60)
            assert fresh.status == "ok"
            assert [c.name for c in agent.radio.commands] == ["on"]


async def test_malformed_oversized_and_unknown_frames_get_errors_and_the_link_stays(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await relay.send_raw("this is not json")
            bad = await next_message(relay, "error")
            assert isinstance(bad, ErrorMessage) and bad.error == "malformed"
            assert "not valid JSON" in bad.message
            await relay.send_raw('{"type":"command","id":"c-9","device":"zwave-2","command":7}')
            bad = await next_message(relay, "error")
            assert (bad.error, bad.in_reply_to) == ("malformed", "c-9")
            assert "'command' must be a string, not an integer" in bad.message
            await relay.send_raw('{"type":"self_destruct"}')
            unknown = await next_message(relay, "error")
            assert unknown.error == "unknown_type" and "self_destruct" in unknown.message
            await relay.send_raw('{"type":"ota_available","blob":"' + "x" * MAX_MESSAGE_BYTES + '"}')
            big = await next_message(relay, "error")
            assert big.error == "too_large"
            from hub_agent.cloud.protocol import encode

            await relay.send_raw(encode(Welcome(0)))
            again = await next_message(relay, "error")
            assert again.error == "out_of_order"
            # Still the same connection, still working.
            assert (await relay.send_command("zwave-2", "on")).status == "ok"
            assert agent.link.connections == 1 and relay.connections == 1
            assert agent.link.bad_messages == 5


async def test_server_killed_mid_stream_unacked_events_are_resent_in_order(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths, auto_ack=False) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            first = await next_events(relay, 7)
            await relay.kill()  # no close frame, nothing acknowledged
            for value in (21.0, 22.0, 23.0):
                agent.radio.report(DeviceId("zwave-4"), "temperature", value)
            relay.auto_ack = True
            await relay.start()
            rest = await next_events(relay, 3)
            assert [e["seq"] for e in first + rest] == list(range(1, 11))
            assert [e["value"] for e in rest] == [21.0, 22.0, 23.0]
            assert relay.duplicates == 7  # 1..7 came again, because they had not been acknowledged
            async with asyncio.timeout(5):
                while agent.link.outbox.count:
                    await asyncio.sleep(0.01)


async def test_server_restart_reconnects_and_resumes(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    clock = ScaledClock()
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url), clock=clock)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await next_events(relay, 7)
            await relay.stop()
            async with asyncio.timeout(5):
                await agent.link.wait_for(LinkState.BACKOFF)
            agent.radio.report(DeviceId("zwave-6"), "contact", "open")
            await relay.start()
            await agent.connected()
            await relay.wait_connected()
            (event,) = await next_events(relay, 1)
            assert (event["seq"], event["value"]) == (8, "open")
            assert relay.duplicates == 0  # acked events are not resent
            assert (await relay.send_command("zwave-2", "on")).status == "ok"
            assert agent.link.connections == 2


async def test_a_silent_server_is_detected_within_30_seconds(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    # A slower clock than elsewhere, so scheduling delays on a busy machine cannot eat the margin.
    clock = ScaledClock(speed=20)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url), clock=clock)
        async with running(agent):
            await agent.connected()
            hub = await relay.wait_connected()
            hub.ws.transport.pause_reading()  # the server stops reading: no pongs, a half-open link
            paused_at = clock.monotonic()
            async with asyncio.timeout(10):
                await agent.link.wait_for(LinkState.BACKOFF)
            detected_after = clock.monotonic() - paused_at
            assert detected_after <= 30.0, detected_after
            assert "no pong" in agent.link.status["last_error"]
            hub.ws.transport.resume_reading()
            await agent.connected()
            assert agent.link.connections == 2


async def test_commands_arriving_during_a_reconnect_are_answered_once(tmp_path: Path) -> None:
    class SlowRadio(SimRadio):
        """The air takes its time: delivery waits until the test opens the gate."""

        gate: asyncio.Event
        entered: asyncio.Event

        async def execute(self, command: Command) -> None:
            self.entered.set()
            await self.gate.wait()
            await super().execute(command)

    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url), radio_class=SlowRadio)
        radio = agent.radio
        assert isinstance(radio, SlowRadio)
        radio.gate, radio.entered = asyncio.Event(), asyncio.Event()
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await relay.send(CommandMessage("c-42", "zwave-2", "on"))
            await asyncio.wait_for(radio.entered.wait(), 5)
            await relay.kill()  # the connection dies while the radio is still delivering
            radio.gate.set()
            await relay.start()
            result = await next_message(relay, "command_result")  # flushed on the new connection
            assert (result.id, result.status) == ("c-42", "ok")
            repeat = await relay.send_command("zwave-2", "on", command_id="c-42")  # the cloud retries
            assert repeat == result
            assert [c.name for c in radio.commands] == ["on"]


async def test_ten_thousand_events_during_an_outage_all_arrive_in_order(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await next_events(relay, 7)
            await relay.stop()
            await agent.link.wait_for(LinkState.BACKOFF, LinkState.CONNECTING)
            sent = []
            for i in range(10_000):
                value = "off" if i % 2 else "on"  # zwave-2 starts "off": every report is a change
                agent.radio.report(DeviceId("zwave-2"), "switch", value)
                sent.append(value)
                if i % 500 == 499:
                    await asyncio.sleep(0)  # a radio yields between frames
            async with asyncio.timeout(20):
                while agent.link.outbox.committed_seq < 7 + 10_000:
                    await asyncio.sleep(0.01)
            assert agent.link.outbox.count == 10_000
            await relay.start()
            received = await next_events(relay, 10_000, timeout=40)
            assert [e["seq"] for e in received] == list(range(8, 10_008))
            assert [e["value"] for e in received] == sent
            assert relay.duplicates == 0


class MemoryRules:
    """A tiny RulesApi at the edge: rules need an id and at least one trigger."""

    def __init__(self) -> None:
        self.rules: dict[str, JSONObject] = {}

    def list_rules(self) -> list[JSONObject]:
        return list(self.rules.values())

    def get_rule(self, rule_id: str) -> JSONObject | None:
        return self.rules.get(rule_id)

    async def put_rule(self, rule: object) -> JSONObject:
        problems = []
        if not isinstance(rule, dict) or not isinstance(rule.get("id"), str):
            problems.append(RuleProblem("$.id", "must be a string"))
        if not isinstance(rule, dict) or not rule.get("triggers"):
            problems.append(RuleProblem("$.triggers", "needs at least one trigger"))
        if problems:
            raise RuleError(problems)
        assert isinstance(rule, dict)
        self.rules[rule["id"]] = rule
        return rule

    async def delete_rule(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None


async def test_rules_go_through_the_validator_and_errors_reach_the_cloud(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    rules = MemoryRules()
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url), rules=rules)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            rule = {"id": "hall", "triggers": [{"type": "hub_start"}], "actions": []}
            ok = await relay.put_rule(rule)
            assert (ok.status, ok.rule_id) == ("ok", "hall") and rules.rules["hall"] == rule
            bad = await relay.put_rule({"triggers": []})
            assert (bad.status, bad.error) == ("error", "invalid_rule")
            assert [(p.path, p.message) for p in bad.problems] == [
                ("$.id", "must be a string"),
                ("$.triggers", "needs at least one trigger"),
            ]
            gone = await relay.delete_rule("hall")
            assert gone.status == "ok" and rules.rules == {}
            missing = await relay.delete_rule("hall")
            assert (missing.status, missing.error) == ("error", "not_found")


async def test_rules_disabled_is_an_error_not_silence(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url), rules=None)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            result = await relay.put_rule({"id": "r", "triggers": [{"type": "hub_start"}]})
            assert (result.status, result.error, result.rule_id) == ("error", "rules_disabled", "r")


async def test_snapshot_request_answers_every_device_with_state(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            snapshot = await relay.request_snapshot()
            assert snapshot.devices == [d.to_json() for d in agent.hub.devices()]
            assert len(snapshot.devices) == 7
            assert {"id": "zwave-5", "lock": "locked"}.items() <= {
                "id": snapshot.devices[3]["id"],
                **snapshot.devices[3]["state"],
            }.items()


async def test_a_bus_overflow_is_repaired_with_a_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await next_events(relay, 7)
            # 25,000 reports without yielding: more than the link's bus queue holds.
            for i in range(25_000):
                agent.radio.report(DeviceId("zwave-4"), "temperature", 20 + (i % 10) / 10)
            agent.radio.report(DeviceId("zwave-2"), "switch", "on")
            snapshot = await next_message(relay, "state_snapshot", timeout=20)
            states = {d["id"]: d["state"] for d in snapshot.devices}
            assert states["zwave-2"]["switch"] == "on"
            assert agent.link.bus_overflows == 1
            assert "fell behind the event bus" in caplog.text


async def test_backoff_resets_only_after_a_stable_connection(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    clock = ScaledClock()
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url), clock=clock, devices=False)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            agent.link.stable_after = 1e6  # this connection will not count as stable
            agent.link.backoff.attempt = 5  # as if it had failed five times before this connection
            await relay.kill()  # a connection that did not last: the back-off keeps growing
            await agent.link.wait_for(LinkState.BACKOFF)
            assert agent.link.backoff.attempt == 6
            await relay.start()
            await agent.connected()
            clock.monotonic_offset += 2e6  # the connection stays up longer than the stable period
            await relay.kill()
            await agent.link.wait_for(LinkState.BACKOFF)
            assert agent.link.backoff.attempt == 1  # reset to the 1 s start, then one failure counted
            await relay.start()
            await agent.connected()


async def test_a_frame_beyond_the_transport_limit_closes_and_the_link_recovers(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url))
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await next_events(relay, 7)
            await relay.send_raw('{"type":"ota_available","blob":"' + "x" * (5 * MAX_MESSAGE_BYTES) + '"}')
            async with asyncio.timeout(10):
                await agent.link.wait_for(LinkState.BACKOFF)
            assert "1009" in agent.link.status["last_error"]
            await agent.connected()
            await relay.wait_connected()
            assert (await relay.send_command("zwave-2", "on")).status == "ok"


async def test_a_rule_put_from_the_cloud_runs_locally_with_the_real_rules_engine(tmp_path: Path) -> None:
    pki_paths = pki_for(tmp_path)
    async with relay_for(pki_paths) as relay:
        agent = await build_agent(write_config(tmp_path, pki_paths, relay.url))
        service = RulesService(agent.runtime)
        service.load()
        agent.runtime.rules = service
        rules_task = asyncio.create_task(service.run())
        try:
            async with running(agent):
                await agent.connected()
                await relay.wait_connected()
                await next_events(relay, 7)
                bad = await relay.put_rule({"id": "hall", "triggers": [], "actions": [{"type": "warp"}]})
                assert (bad.status, bad.error) == ("error", "invalid_rule")
                assert bad.problems and all(p.path.startswith("$") and p.message for p in bad.problems)
                rule = {
                    "id": "hall",
                    "triggers": [
                        {"type": "state", "device": "zwave-4", "attribute": "motion", "to": "active"}
                    ],
                    "actions": [{"type": "command", "device": "zwave-2", "command": "on"}],
                }
                ok = await relay.put_rule(rule)
                assert (ok.status, ok.rule_id) == ("ok", "hall"), ok
                assert service.get_rule("hall") is not None
                agent.radio.report(DeviceId("zwave-4"), "motion", "active")
                async with asyncio.timeout(10):
                    seen: list[dict[str, object]] = []
                    while not any(e.get("type") == "rule_fired" for e in seen):
                        seen += await next_events(relay, 1)
                assert [c.name for c in agent.radio.commands] == ["on"]
                gone = await relay.delete_rule("hall")
                assert gone.status == "ok" and service.get_rule("hall") is None
        finally:
            rules_task.cancel()
            await asyncio.gather(rules_task, return_exceptions=True)
