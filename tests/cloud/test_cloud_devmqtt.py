"""`hub-agent relay --mqtt`: the development cloud over a local mosquitto talks to a real agent core."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mosquitto import free_port
from test_cloud_harness import HUB_ID, build_agent, pki_for, running, write_config

from hub_agent.cli import main
from hub_agent.cloud.devmqtt import DevMqttCloud
from hub_agent.cloud.protocol import CommandResultMessage, HubMessage, RulesResult, StateSnapshot


async def test_the_dev_mqtt_cloud_runs_commands_rules_and_snapshots(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    seen: list[tuple[str, HubMessage]] = []
    cloud = DevMqttCloud(
        server_cert=paths.server_cert,
        server_key=paths.server_key,
        client_ca=paths.ca_cert,
        ca_cert=paths.ca_cert,
        ca_key=paths.ca_key,
        port=free_port(),
        on_message=lambda hub, message: seen.append((hub, message)),
    )
    await cloud.start()
    try:
        agent = await build_agent(write_config(tmp_path, paths, cloud.url, extra_cloud='protocol = "mqtt"\n'))
        async with running(agent):
            await agent.connected()
            async with asyncio.timeout(10):
                await cloud.wait_online(HUB_ID)  # the retained state arrives after the CONNACK
            result = await cloud.send_command("zwave-2", "on")
            assert isinstance(result, CommandResultMessage) and result.status == "ok", result
            snapshot = await cloud.request_snapshot()
            assert isinstance(snapshot, StateSnapshot) and len(snapshot.devices) == 7
            rules = await cloud.put_rule({"id": "r1", "triggers": [], "actions": []})
            assert isinstance(rules, RulesResult) and rules.error == "rules_disabled"
            assert any(m.type.value == "event" for _, m in seen)
    finally:
        await cloud.stop()


def test_relay_mqtt_needs_the_dev_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = pki_for(tmp_path)
    code = main(
        ["relay", "--mqtt", "--cert", str(paths.server_cert), "--key", str(paths.server_key),
         "--client-ca", str(paths.ca_cert)]
    )  # fmt: skip
    assert code == 2
    assert "--mqtt needs --ca-cert and --ca-key" in capsys.readouterr().err
