"""`hub-agent relay`: a DEVELOPMENT cloud relay (not a production gateway) for trying the cloud path.

It accepts hubs that present a client certificate from `--client-ca`, prints their events and
messages, and reads commands from stdin, one per line:

    zwave-2 on                         a device command (args as JSON after the command)
    zwave-3 set_level {"level": 40}
    snapshot                           ask for a state snapshot
    rule {"id": "r1", ...}             rules_put;   delete-rule r1   rules_delete
    @hub-0001 zwave-2 off              address one hub when several are connected

With `--ca-key` it also signs certificate-renewal CSRs with the dev CA. With `--mqtt` (and the dev CA,
e.g. `--make-pki DIR`) it starts a local mosquitto instead and speaks MQTT 5 (hubs set
`protocol = "mqtt"` and the printed mqtts:// URL); see docs/cloud-mqtt.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from pathlib import Path

from hub_agent.cloud.devcloud import DevRelay, make_dev_pki
from hub_agent.cloud.devmqtt import BrokerMissing, DevMqttCloud
from hub_agent.cloud.protocol import Event, HubMessage, encode
from hub_core.errors import HubError

HELP = "run a DEVELOPMENT cloud relay: accept hubs over mutual TLS, print events, send commands"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--listen, --cert, --key, --client-ca, --ca-cert, --ca-key, --make-pki."""
    parser.add_argument(
        "--listen", default="127.0.0.1:8765", metavar="HOST:PORT", help="default 127.0.0.1:8765"
    )
    parser.add_argument("--cert", type=Path, help="the relay's server certificate (PEM)")
    parser.add_argument("--key", type=Path, help="the relay's server key (PEM)")
    parser.add_argument("--client-ca", type=Path, help="CA that issued the hubs' client certificates")
    parser.add_argument("--ca-cert", type=Path, help="dev CA certificate used to sign renewals")
    parser.add_argument("--ca-key", type=Path, help="dev CA key; enables certificate renewal")
    parser.add_argument(
        "--make-pki",
        type=Path,
        metavar="DIR",
        help="first create a throwaway dev CA, relay cert and a hub cert (for --hub-id) in DIR and use them",
    )
    parser.add_argument("--hub-id", default="hub-dev", help="hub id for the --make-pki client certificate")
    parser.add_argument(
        "--mqtt", action="store_true", help="run a local mosquitto and speak MQTT 5 (needs the dev CA key)"
    )


def main(args: argparse.Namespace) -> int:
    """Run until Ctrl-C or end of input."""
    host, _, port_text = args.listen.rpartition(":")
    if not host or not port_text.isdigit():
        print(f"hub-agent relay: --listen must be HOST:PORT, not {args.listen!r}", file=sys.stderr)
        return 2
    if args.make_pki is not None:
        paths = make_dev_pki(args.make_pki, args.hub_id)
        args.cert, args.key, args.client_ca = paths.server_cert, paths.server_key, paths.ca_cert
        args.ca_cert, args.ca_key = paths.ca_cert, paths.ca_key
        print(
            f"dev PKI in {args.make_pki}: CA {paths.ca_cert}, "
            f"hub cert {paths.hub_cert}, hub key {paths.hub_key}",
            flush=True,
        )
    missing = [name for name in ("cert", "key", "client_ca") if getattr(args, name) is None]
    if missing:
        names = ", ".join("--" + m.replace("_", "-") for m in missing)
        print(f"hub-agent relay: needs {names} (or --make-pki DIR)", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args, host.strip("[]"), int(port_text)))
    except KeyboardInterrupt:
        return 0


def _print(hub_id: str, message: HubMessage) -> None:
    if isinstance(message, Event):
        print(f"{hub_id} event #{message.seq}: {json.dumps(message.event)}", flush=True)
    else:
        print(f"{hub_id} {encode(message)}", flush=True)


async def _serve(args: argparse.Namespace, host: str, port: int) -> int:
    relay: DevRelay | DevMqttCloud
    if args.mqtt:
        if args.ca_cert is None or args.ca_key is None:
            print("hub-agent relay: --mqtt needs --ca-cert and --ca-key (or --make-pki DIR)", file=sys.stderr)
            return 2
        relay = DevMqttCloud(
            server_cert=args.cert,
            server_key=args.key,
            client_ca=args.client_ca,
            ca_cert=args.ca_cert,
            ca_key=args.ca_key,
            host=host,
            port=port,
            on_message=_print,
        )
        try:
            await relay.start()
        except BrokerMissing as exc:
            print(f"hub-agent relay: {exc}", file=sys.stderr)
            await relay.stop()
            return 2
        print(f"DEVELOPMENT MQTT cloud (mosquitto) on {relay.url}", flush=True)
        return await _loop(relay)
    relay = DevRelay(
        server_cert=args.cert,
        server_key=args.key,
        client_ca=args.client_ca,
        host=host,
        port=port,
        ca_cert=args.ca_cert if args.ca_key else None,
        ca_key=args.ca_key,
        on_message=_print,
    )
    await relay.start()
    print(f"DEVELOPMENT relay (not a production gateway) listening on {relay.url}", flush=True)
    return await _loop(relay)


async def _loop(relay: DevRelay | DevMqttCloud) -> int:
    lines = await _stdin_lines()
    try:
        while True:
            raw = await lines.readline()
            if not raw:
                return 0
            try:
                await _command(relay, raw.decode("utf-8", "replace").strip())
            except (LookupError, ValueError, HubError, TimeoutError) as exc:
                print(f"! {type(exc).__name__}: {exc}", flush=True)
    finally:
        await relay.stop()


async def _stdin_lines() -> asyncio.StreamReader:
    """stdin as an asyncio stream, so Ctrl-C never waits for a blocked read in a thread."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except ValueError:
        # stdin is a regular file: read it whole.
        reader.feed_data(sys.stdin.buffer.read())
        reader.feed_eof()
    return reader


async def _command(relay: DevRelay | DevMqttCloud, line: str) -> None:
    if not line:
        return
    hub_id = None
    if line.startswith("@"):
        hub_id, _, line = line[1:].partition(" ")
    word, _, rest = line.partition(" ")
    if word == "snapshot":
        await relay.request_snapshot(hub_id=hub_id)
    elif word == "rule":
        await relay.put_rule(json.loads(rest), hub_id=hub_id)
    elif word == "delete-rule":
        await relay.delete_rule(rest.strip(), hub_id=hub_id)
    else:
        parts = shlex.split(line) if "{" not in line else line.split(" ", 2)
        if len(parts) < 2:
            raise ValueError("usage: DEVICE COMMAND [JSON ARGS]")
        arguments = json.loads(parts[2]) if len(parts) > 2 else {}
        await relay.send_command(parts[0], parts[1], arguments, hub_id=hub_id)
