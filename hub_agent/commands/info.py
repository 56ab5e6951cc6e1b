"""`hub-agent info --config FILE [--json]`: hub id, version, slots, LAN fingerprint, radios, cloud state.

It only reads: it creates no key, no store and no certificate, so it is safe on a hub in any state.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from hub_agent import __version__
from hub_agent.config import Config, load_config
from hub_agent.identity import hub_id_from_key, key_path, load_or_create_key
from hub_agent.store import STORE_FILE
from hub_core.errors import HubError

HELP = "show hub id, version, slots, LAN TLS fingerprint, radios and cloud state"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config FILE` and `--json`."""
    parser.add_argument("--config", required=True, metavar="FILE", help="the TOML configuration file")
    parser.add_argument("--json", action="store_true", help="print one JSON object for machines")


def main(args: argparse.Namespace) -> int:
    """Print what is known about this hub."""
    info = collect(load_config(args.config))
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(render(info))
    return 0


def collect(config: Config) -> dict[str, Any]:
    """Everything `info` shows, as a JSON-ready dict."""
    return {
        "hub_id": _hub_id(config),
        "version": __version__,
        "data_dir": str(config.hub.data_dir),
        "slots": _slots(config),
        "lan": _lan(config),
        "radios": _radios(config),
        "cloud": _cloud(config),
        "devices": _device_count(config.hub.data_dir / STORE_FILE),
        "update_trust": _update_trust(config),
    }


def render(info: dict[str, Any]) -> str:
    """`info` as lines for a person."""
    lines = [
        f"hub id:       {info['hub_id'] or 'no key yet (made at first start, or by hub-agent provision)'}",
        f"version:      {info['version']}",
        f"data dir:     {info['data_dir']}",
        f"slots:        {info['slots']['state']}",
        f"devices:      {info['devices']}",
    ]
    if info.get("update_trust"):
        lines.append(f"update trust: {info['update_trust']}")
    lan = info["lan"]
    if lan is None:
        lines.append("LAN API:      disabled")
    else:
        lines.append(f"LAN API:      {lan['url']}")
        if not lan["tls"]:
            lines.append("LAN TLS:      off ([lan] tls = false; loopback only)")
        else:
            lines.append(f"LAN TLS:      {lan['fingerprint'] or 'no certificate yet (made at first start)'}")
        if lan.get("http_parser"):
            lines.append(f"LAN parser:   {lan['http_parser']}")
    for radio in info["radios"]:
        lines.append(f"radio:        {radio['protocol']} on {radio['port']}")
    if not info["radios"]:
        lines.append("radio:        none configured")
    cloud = info["cloud"]
    if cloud is None:
        lines.append("cloud:        disabled")
    else:
        detail = f" since {cloud['since']}" if cloud.get("since") else ""
        error = f" (last error: {cloud['last_error']})" if cloud.get("last_error") else ""
        protocol = " (MQTT 5)" if cloud.get("protocol") == "mqtt" else ""
        lines.append(f"cloud:        {cloud['url']}{protocol}: {cloud['state']}{detail}{error}")
    return "\n".join(lines)


def _hub_id(config: Config) -> str | None:
    if config.hub.id:
        return config.hub.id
    path = key_path(config)
    return hub_id_from_key(load_or_create_key(path)) if path.exists() else None


def _slots(config: Config) -> dict[str, Any]:
    if config.ota is None:
        return {"state": "single slot (A/B updates not configured)", "active": None}
    from hub_agent.ota.state import StateFile

    try:
        state = StateFile(config.hub.data_dir).load()
    except HubError as exc:
        return {"state": f"A/B ({config.ota.backend}): {exc}", "active": None}
    text = f"A/B ({config.ota.backend}), highest installed {state.highest or 'not recorded yet'}"
    if state.pending is not None:
        text += f", {state.pending.version} pending on slot {state.pending.slot}"
    if state.last_error:
        text += f", last error: {state.last_error}"
    return {"state": text, "active": None}


def _update_trust(config: Config) -> str | None:
    """`"owner"` if the owner trusts their own repository (GPLv3 section 6), else `"vendor"`; None: no OTA."""
    if config.ota is None:
        return None
    from hub_agent.ota.state import trust_label

    return trust_label(config.hub.data_dir)


def _lan(config: Config) -> dict[str, Any] | None:
    if config.lan is None:
        return None
    scheme = "https" if config.lan.tls else "http"
    fingerprint = None
    parser = None
    with contextlib.suppress(ModuleNotFoundError):
        tls = importlib.import_module("hub_agent.lan.tls")
        fingerprint = tls.fingerprint(config.hub.data_dir) if config.lan.tls else None
        parser = importlib.import_module("hub_agent.lan.httpparser").kind()
    return {
        "url": f"{scheme}://{config.lan.host}:{config.lan.port}/",
        "tls": config.lan.tls,
        "fingerprint": fingerprint,
        "http_parser": parser,
    }


def _radios(config: Config) -> list[dict[str, str]]:
    out = []
    if config.zwave is not None:
        out.append({"protocol": "zwave", "port": config.zwave.port})
    if config.zigbee is not None:
        port = config.zigbee.port or "simulated air"
        out.append({"protocol": "zigbee", "port": f"{port} ({config.zigbee.radio})"})
    if config.ble is not None:
        out.append({"protocol": "ble", "port": config.ble.adapter})
    return out


def _read_store(path: Path, query: str, args: tuple[Any, ...] = ()) -> list[Any]:
    """Rows of a read-only query, or [] when the store does not exist yet."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(query, args).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def _device_count(path: Path) -> int:
    rows = _read_store(path, "SELECT count(*) FROM devices")
    return int(rows[0][0]) if rows else 0


def _cloud(config: Config) -> dict[str, Any] | None:
    if config.cloud is None:
        return None
    rows = _read_store(
        config.hub.data_dir / STORE_FILE, "SELECT value FROM kv WHERE key = ?", ("cloud.status",)
    )
    status: dict[str, Any] = json.loads(rows[0][0]) if rows else {"state": "never connected"}
    return {"url": config.cloud.url, "protocol": config.cloud.protocol, **status}
