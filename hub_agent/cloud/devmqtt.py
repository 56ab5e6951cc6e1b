"""A DEVELOPMENT cloud over MQTT 5: a local mosquitto plus a cloud client, for `hub-agent relay --mqtt`.

Not production: it starts the machine's `mosquitto` binary (if installed) on loopback with mutual TLS,
`use_identity_as_username` and the ACL `pattern readwrite hubs/%u/#`, issues itself a "cloud" client
certificate from the dev CA, and offers the same calls as DevRelay (send_command, put_rule,
delete_rule, request_snapshot) over request/response topics. It signs renewal CSRs with the dev CA.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import os
import shutil
import signal
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
from cryptography.hazmat.primitives.asymmetric import ec
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub_agent.cloud import pki
from hub_agent.cloud.protocol import (
    Certificate,
    CertRenewal,
    CommandMessage,
    HubMessage,
    Message,
    RulesDelete,
    RulesPut,
    SnapshotRequest,
    decode_from_hub,
    encode,
)
from hub_core.errors import HubError, ProtocolError
from hub_core.model import JSONObject

log = logging.getLogger(__name__)

CLOUD_CN = "cloud"
ANSWERS = "relay"  # our response topics: hubs/{id}/<kind>/res/relay


class BrokerMissing(HubError):
    """No mosquitto binary on this machine."""


class DevMqttCloud:
    """A local broker and the cloud's client; see the module docstring."""

    def __init__(
        self,
        *,
        server_cert: Path,
        server_key: Path,
        client_ca: Path,
        ca_cert: Path,
        ca_key: Path,
        host: str = "127.0.0.1",
        port: int = 8883,
        on_message: Callable[[str, HubMessage], None] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.server_cert, self.server_key, self.client_ca = server_cert, server_key, client_ca
        self._ca = (pki.load_certificate(ca_cert), pki.load_key(ca_key))
        self.on_message = on_message
        self.hubs: set[str] = set()
        self._hubs_changed = asyncio.Event()
        self._folder = Path(tempfile.mkdtemp(prefix="hub-agent-devmqtt-"))
        self._broker: asyncio.subprocess.Process | None = None
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiters: dict[str, asyncio.Future[HubMessage]] = {}
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        """The mqtts:// URL hubs should use (with `protocol = "mqtt"`)."""
        return f"mqtts://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start mosquitto and connect the cloud client."""
        binary = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        if binary is None:
            raise BrokerMissing("`hub-agent relay --mqtt` needs mosquitto (apt install mosquitto)")
        acl = self._folder / "acl"
        acl.write_text(f"user {CLOUD_CN}\ntopic readwrite hubs/#\n\npattern readwrite hubs/%u/#\n")
        conf = self._folder / "mosquitto.conf"
        conf.write_text(
            "per_listener_settings true\nlog_dest stderr\nlog_type error\nlog_type warning\n"
            "log_type information\nset_tcp_nodelay true\n"
            f"listener {self.port} {self.host}\nprotocol mqtt\ncafile {self.client_ca}\n"
            f"certfile {self.server_cert}\nkeyfile {self.server_key}\nrequire_certificate true\n"
            f"use_identity_as_username true\nacl_file {acl}\n" + ("user root\n" if os.geteuid() == 0 else "")
        )
        self._broker = await asyncio.create_subprocess_exec(
            binary, "-c", str(conf), stderr=asyncio.subprocess.PIPE
        )
        assert self._broker.stderr is not None
        async with asyncio.timeout(10):
            while b" running" not in (line := await self._broker.stderr.readline()):
                if not line:
                    raise BrokerMissing("mosquitto exited at start (is the port free?)")
        self._drain = asyncio.create_task(self._drain_log(self._broker))
        self._client = aiomqtt.Client(
            self.host,
            self.port,
            identifier="hub-agent-dev-cloud",
            protocol=aiomqtt.ProtocolVersion.V5,
            tls_context=self._cloud_tls(),
        )
        await self._client.__aenter__()
        for topic in ("hubs/+/events", "hubs/+/state", "hubs/+/+/res/relay", "hubs/+/snapshot",
                      "hubs/+/errors", "hubs/+/cert/renewal", "hubs/+/cert/status", "hubs/+/cmd/res",
                      "hubs/+/rules/res"):  # fmt: skip
            await self._client.subscribe(topic, qos=1)
        self._reader = asyncio.create_task(self._read(self._client))

    def _cloud_tls(self) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = pki.issue(*self._ca, key.public_key(), CLOUD_CN, not_before=now - dt.timedelta(minutes=5),
                         not_after=now + dt.timedelta(days=30), client=True)  # fmt: skip
        cert_path, key_path = self._folder / "cloud.crt", self._folder / "cloud.key"
        pki.write_atomically(cert_path, pki.pem(cert))
        pki.write_private_key(key_path, key)
        context = ssl.create_default_context(cafile=str(self._ca_file()))
        context.load_cert_chain(cert_path, key_path)
        return context

    def _ca_file(self) -> Path:
        path = self._folder / "ca.pem"
        path.write_bytes(pki.pem(self._ca[0]))
        return path

    @staticmethod
    async def _drain_log(process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            log.debug("mosquitto: %s", line.decode(errors="replace").rstrip())

    async def stop(self) -> None:
        """Disconnect and stop the broker."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.__aexit__(None, None, None)
        if self._broker is not None:
            if self._broker.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._broker.pid, signal.SIGTERM)  # not send_signal: see tests/cloud
            await self._broker.wait()
            await self._drain
        shutil.rmtree(self._folder, ignore_errors=True)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            parts = str(message.topic).split("/")
            hub_id = parts[1] if len(parts) > 2 else "?"
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if parts[-1] == "state":
                if b'"online":true' in payload.replace(b" ", b""):
                    self.hubs.add(hub_id)
                else:
                    self.hubs.discard(hub_id)
                self._hubs_changed.set()
                print(f"{hub_id} state {payload.decode(errors='replace')}", flush=True)
                continue
            try:
                hub_message = decode_from_hub(payload)
            except ProtocolError as exc:
                log.warning("dev cloud: bad message from %s on %s: %s", hub_id, message.topic, exc)
                continue
            if isinstance(hub_message, CertRenewal):
                await self._renew(hub_id, hub_message)
            waiter = self._waiters.pop(_key(hub_id, hub_message), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(hub_message)
            if self.on_message is not None:
                self.on_message(hub_id, hub_message)

    async def _renew(self, hub_id: str, request: CertRenewal) -> None:
        try:
            cert = pki.sign_csr(request.csr, *self._ca, dt.datetime.now(dt.UTC), expected_cn=hub_id)
        except pki.CertificateProblem as exc:
            log.warning("dev cloud: cannot renew %s: %s", hub_id, exc)
            return
        await self._publish(hub_id, "cert", Certificate(pki.pem(cert).decode("ascii")), None)

    async def wait_online(self, hub_id: str) -> None:
        """Wait until `hub_id` announced itself online (its retained state)."""
        while hub_id not in self.hubs:
            self._hubs_changed.clear()
            await self._hubs_changed.wait()

    def _hub(self, hub_id: str | None) -> str:
        if hub_id is not None:
            return hub_id
        if len(self.hubs) != 1:
            raise LookupError(f"{len(self.hubs)} hubs are online; name one with @HUB")
        return next(iter(self.hubs))

    async def _publish(self, hub_id: str, suffix: str, message: Message, answer: str | None) -> None:
        assert self._client is not None
        properties = None
        if answer is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.ResponseTopic = f"hubs/{hub_id}/{answer}/res/{ANSWERS}"
        await self._client.publish(f"hubs/{hub_id}/{suffix}", encode(message), qos=1, properties=properties)

    async def _ask(self, hub_id: str, suffix: str, message: Message, key: str, timeout: float) -> HubMessage:
        future: asyncio.Future[HubMessage] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        try:
            await self._publish(hub_id, suffix, message, suffix.split("/")[0])
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._waiters.pop(key, None)

    async def send_command(self, device: str, command: str, args: JSONObject | None = None, *,
                           hub_id: str | None = None, timeout: float = 15.0) -> HubMessage:  # fmt: skip
        """A command and its command_result."""
        hub, command_id = self._hub(hub_id), f"dev-{next(self._ids)}"
        message = CommandMessage(command_id, device, command, args or {})
        return await self._ask(hub, "cmd/req", message, f"{hub}/command_result/{command_id}", timeout)

    async def put_rule(
        self, rule: JSONObject, *, hub_id: str | None = None, timeout: float = 15.0
    ) -> HubMessage:
        """rules_put and its rules_result."""
        hub, request_id = self._hub(hub_id), f"dev-{next(self._ids)}"
        return await self._ask(
            hub, "rules/put", RulesPut(rule, request_id), f"{hub}/rules_result/{request_id}", timeout
        )

    async def delete_rule(
        self, rule_id: str, *, hub_id: str | None = None, timeout: float = 15.0
    ) -> HubMessage:
        """rules_delete and its rules_result."""
        hub, request_id = self._hub(hub_id), f"dev-{next(self._ids)}"
        message = RulesDelete(rule_id, request_id)
        return await self._ask(hub, "rules/delete", message, f"{hub}/rules_result/{request_id}", timeout)

    async def request_snapshot(self, *, hub_id: str | None = None, timeout: float = 15.0) -> HubMessage:
        """snapshot_request and the state_snapshot."""
        hub = self._hub(hub_id)
        return await self._ask(hub, "snapshot/req", SnapshotRequest(), f"{hub}/state_snapshot/", timeout)


def _key(hub_id: str, message: HubMessage) -> str:
    data: dict[str, Any] = json.loads(encode(message))
    reference = data.get("id") or data.get("request_id") or ""
    return f"{hub_id}/{message.type.value}/{reference if message.type.value != 'state_snapshot' else ''}"
