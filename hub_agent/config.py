"""The configuration file (CONTRACT section 3): TOML in, typed sections out, every error with its line.

Rules of this file: `load_config` never stops at the first problem; it collects every one as
`file:line: message` and raises one ConfigError. A missing section disables that part; unknown sections
and keys are errors. Relative paths are taken relative to the config file's folder.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hub_core.errors import ConfigError, ConfigProblem
from radios.ble.settings import BleSection as BleSection
from radios.zigbee.settings import ZigbeeSection as ZigbeeSection
from radios.zwave.settings import ZWaveSection as ZWaveSection

T = TypeVar("T")


# --- the typed configuration ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HubSection:
    """`[hub]`: identity, where data lives, where the hub is (for sunrise/sunset)."""

    id: str | None = None
    data_dir: Path = Path("/var/lib/hub-agent")
    timezone: str = "UTC"
    latitude: float | None = None
    longitude: float | None = None
    log_level: str = "info"


@dataclass(frozen=True, slots=True)
class LanSection:
    """`[lan]`: where the local API listens and whether it uses TLS."""

    host: str = "0.0.0.0"  # noqa: S104  (CONTRACT default: the phone app is on the LAN)
    port: int = 8443
    tls: bool = True
    mdns: bool = True  # announce `_hub-agent._tcp` on the listen address's interface(s)
    # Limits (README "Limits"; the others are fixed in hub_agent/lan/limits.py)
    header_timeout: float = 10.0
    max_connections: int = 1024  # the fd budget: below the unit's LimitNOFILE=4096
    max_connections_per_client: int = 64
    max_event_clients: int = 64


@dataclass(frozen=True, slots=True)
class CloudSection:
    """`[cloud]`: the one outbound WebSocket, its trust anchors and the hub's client certificate."""

    url: str = ""
    protocol: str = "ws"  # ws: CONTRACT section 7 | mqtt: MQTT 5, section 9.5
    ca: Path = Path("/etc/hub-agent/cloud-ca.pem")
    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None  # verifies renewed client certificates; None = `ca`
    backoff_cap: float = 60.0
    ping_interval: float = 10.0
    outbox_limit: int = 100_000
    max_requests_per_second: float = 50.0  # cloud requests per hub, after a burst of 4 s worth


@dataclass(frozen=True, slots=True)
class RulesSection:
    """`[rules]`: an optional seed file (the store is the source of truth) and the runaway limit."""

    file: Path | None = None
    max_fires_per_minute: int = 120
    # Limits (README "Limits"): how many rules, how large each, and commands per second from all rules
    max_rules: int = 500
    max_rule_bytes: int = 16 * 1024
    max_commands_per_second: int = 50


@dataclass(frozen=True, slots=True)
class OtaSection:
    """`[ota]`: the TUF update repository, its trust anchors, the A/B slot backend, the health window."""

    repository: str = ""
    root: Path = Path("/etc/hub-agent/tuf-root.json")
    ca: Path | None = None
    backend: str = "rauc"
    slots_dir: Path | None = None  # dir backend only; default <data_dir>/slots
    health_window: float = 300.0
    auto_install: bool = False
    check_interval: float = 6 * 3600.0
    reboot_command: tuple[str, ...] = ("systemctl", "reboot")  # rauc backend only


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; a section that is None was absent, which disables that part."""

    path: Path
    hub: HubSection = field(default_factory=HubSection)
    zwave: ZWaveSection | None = None
    zigbee: ZigbeeSection | None = None
    ble: BleSection | None = None
    lan: LanSection | None = None
    cloud: CloudSection | None = None
    rules: RulesSection | None = None
    ota: OtaSection | None = None


# --- value checkers: each returns the typed value or raises ValueError with a sentence -------------


Checker = Callable[[Any, "Context"], Any]


@dataclass(slots=True)
class Context:
    """What checkers need to know about the file being read."""

    base: Path


def _string(value: Any, ctx: Context) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    return value


def _nonempty(value: Any, ctx: Context) -> str:
    text = _string(value, ctx)
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _boolean(value: Any, ctx: Context) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_kind(value)}")
    return value


def _number(low: float, high: float) -> Checker:
    def check(value: Any, ctx: Context) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, not {_kind(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, not {value:g}")
        return float(value)

    return check


def _integer(low: int, high: int) -> Checker:
    def check(value: Any, ctx: Context) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {_kind(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, not {value}")
        return value

    return check


def _choice(*choices: str) -> Checker:
    def check(value: Any, ctx: Context) -> str:
        text = _string(value, ctx)
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {text!r}")
        return text

    return check


def _path(value: Any, ctx: Context) -> Path:
    path = Path(_nonempty(value, ctx)).expanduser()
    return path if path.is_absolute() else ctx.base / path


def _readable_file(value: Any, ctx: Context) -> Path:
    path = _path(value, ctx)
    if not path.is_file():
        raise ValueError(f"cannot read {str(path)!r}: no such file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"cannot read {str(path)!r}: permission denied")
    return path


def _optional_readable_file(value: Any, ctx: Context) -> Path:
    """A path that may not exist yet (created by provisioning) but must be readable if it does."""
    path = _path(value, ctx)
    if path.exists() and (not path.is_file() or not os.access(path, os.R_OK)):
        raise ValueError(f"cannot read {str(path)!r}")
    return path


def _timezone(value: Any, ctx: Context) -> str:
    name = _nonempty(value, ctx)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like 'Europe/Paris')") from None
    return name


_SERIAL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep")


def _serial_port(value: Any, ctx: Context) -> str:
    port = _nonempty(value, ctx)
    if port == "sim" or port.startswith("/"):
        return port
    scheme, sep, rest = port.partition("://")
    if not sep:
        raise ValueError(f"{port!r} is neither a device path (/dev/...), a pyserial URL nor 'sim'")
    if scheme not in _SERIAL_SCHEMES:
        raise ValueError(f"unsupported pyserial URL scheme {scheme!r} in {port!r}")
    if scheme in ("socket", "rfc2217"):
        _host_port(rest.split("?", 1)[0], what=port)
    return port


def _host_port(text: str, what: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise ValueError(f"{what!r} must be HOST:PORT")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"bad port {port_text!r} in {what!r} (must be 1-65535)")
    return host, int(port_text)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(value: Any, ctx: Context) -> tuple[str, int]:
    text = _nonempty(value, ctx)
    host, port = _host_port(text, text)
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"listen host must be an IP address or localhost, not {host!r}") from None
    return host, port


def _wss_url(value: Any, ctx: Context) -> str:
    url = _nonempty(value, ctx)
    parts = urlsplit(url)
    if parts.scheme != "wss":
        raise ValueError(f"must be a wss:// URL (TLS is required), not {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    if not parts.hostname or (port is not None and not 1 <= port <= 65535):
        raise ValueError(f"{url!r} has no host")
    return url


def _cloud_url(value: Any, ctx: Context) -> str:
    """wss:// (either protocol) or mqtts:// (MQTT 5 over TLS); never a plain-text scheme."""
    url = _nonempty(value, ctx)
    if urlsplit(url).scheme == "mqtts":
        return _wss_url(url.replace("mqtts://", "wss://", 1), ctx).replace("wss://", "mqtts://", 1)
    if urlsplit(url).scheme != "wss":
        raise ValueError(f"must be a wss:// URL (TLS is required) or an mqtts:// one, not {url!r}")
    return _wss_url(url, ctx)


def _https_url(value: Any, ctx: Context) -> str:
    url = _nonempty(value, ctx)
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise ValueError(f"must be an https:// URL (TLS is required), not {url!r}")
    try:
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    if not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{url!r} must be https://host[:port]/path/ without query or fragment")
    return url if url.endswith("/") else url + "/"


def _command(value: Any, ctx: Context) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError("must be a non-empty array of strings (program and arguments)")
    return tuple(value)


def _log_level(value: Any, ctx: Context) -> str:
    return _choice("trace", "debug", "info", "warning", "error")(value, ctx)  # type: ignore[no-any-return]


# --- the schema -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Key:
    """One allowed key: its checker, the dataclass field it fills, whether it must be present."""

    check: Checker
    field: str | None = None
    required: bool = False


SCHEMA: dict[str, tuple[type, dict[str, Key]]] = {
    "hub": (
        HubSection,
        {
            "id": Key(_nonempty),
            "data_dir": Key(_path),
            "timezone": Key(_timezone),
            "latitude": Key(_number(-90, 90)),
            "longitude": Key(_number(-180, 180)),
            "log_level": Key(_log_level),
        },
    ),
    "zwave": (ZWaveSection, {"port": Key(_serial_port, required=True), "security_keys": Key(_path)}),
    "zigbee": (
        ZigbeeSection,
        {
            "radio": Key(_choice("znp", "ezsp", "deconz", "sim"), required=True),
            "port": Key(_serial_port),
            "channel": Key(_integer(11, 26)),
        },
    ),
    "ble": (BleSection, {"adapter": Key(_nonempty)}),
    "lan": (
        LanSection,
        {
            "listen": Key(_listen, field="host"),
            "tls": Key(_boolean),
            "mdns": Key(_boolean),
            "header_timeout": Key(_number(1, 300)),
            "max_connections": Key(_integer(16, 3500)),
            "max_connections_per_client": Key(_integer(2, 3500)),
            "max_event_clients": Key(_integer(1, 1000)),
        },
    ),
    "cloud": (
        CloudSection,
        {
            "url": Key(_cloud_url, required=True),
            "protocol": Key(_choice("ws", "mqtt")),
            "ca": Key(_readable_file, required=True),
            "cert": Key(_optional_readable_file),
            "key": Key(_optional_readable_file),
            "client_ca": Key(_readable_file),
            "backoff_cap": Key(_number(1, 86400)),
            "ping_interval": Key(_number(1, 30)),
            "outbox_limit": Key(_integer(1000, 10_000_000)),
            "max_requests_per_second": Key(_number(1, 100_000)),
        },
    ),
    "rules": (
        RulesSection,
        {
            "file": Key(_readable_file),
            "max_fires_per_minute": Key(_integer(1, 100_000)),
            "max_rules": Key(_integer(1, 10_000)),
            "max_rule_bytes": Key(_integer(1024, 60 * 1024)),
            "max_commands_per_second": Key(_integer(1, 10_000)),
        },
    ),
    "ota": (
        OtaSection,
        {
            "repository": Key(_https_url, required=True),
            "root": Key(_readable_file, required=True),
            "ca": Key(_readable_file),
            "backend": Key(_choice("rauc", "dir")),
            "slots_dir": Key(_path),
            "health_window": Key(_number(1, 3600)),
            "auto_install": Key(_boolean),
            "check_interval": Key(_number(60, 7 * 86400)),
            "reboot_command": Key(_command),
        },
    ),
}


# --- loading ----------------------------------------------------------------------------------

_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=")
_DECODE_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def _line_index(text: str) -> dict[tuple[str, str | None], int]:
    """Where each `[table]` and `key =` stands, by (table, key); good enough for our flat files."""
    index: dict[tuple[str, str | None], int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _TABLE.match(line):
            table = match.group(1)
            index.setdefault((table, None), number)
        elif match := _KEY.match(line):
            index.setdefault((table, match.group(1).strip('"')), number)
    return index


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check the config file; raise ConfigError listing every problem."""
    file = Path(path)
    name = str(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigProblem(name, 0, f"cannot read config: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([ConfigProblem(name, line, "not valid UTF-8")]) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _DECODE_POSITION.search(message)
        line = int(match.group(1)) if match else 0
        message = _DECODE_POSITION.sub("", message).strip()
        raise ConfigError([ConfigProblem(name, line, f"TOML syntax error: {message}")]) from None
    return parse_config(document, name, _line_index(text), Path(file).resolve().parent)


def parse_config(
    document: Mapping[str, Any],
    name: str,
    lines: Mapping[tuple[str, str | None], int],
    base: Path,
) -> Config:
    """Check a decoded TOML document against SCHEMA; raise ConfigError listing every problem."""
    problems: list[ConfigProblem] = []
    ctx = Context(base=base)
    sections: dict[str, Any] = {}

    def problem(table: str, key: str | None, message: str) -> None:
        line = lines.get((table, key)) or lines.get((table, None)) or 0
        problems.append(ConfigProblem(name, line, message))

    for table, body in document.items():
        if table not in SCHEMA:
            problem(table, None, f"unknown section [{table}]{_suggest(table, SCHEMA)}")
            continue
        if not isinstance(body, dict):
            problem("", table, f"{table} must be a section ([{table}]), not {_kind(body)}")
            continue
        section_type, keys = SCHEMA[table]
        values: dict[str, Any] = {}
        for key, value in body.items():
            spec = keys.get(key)
            if spec is None:
                problem(table, key, f"unknown key {key!r} in [{table}]{_suggest(key, keys)}")
                continue
            try:
                checked = spec.check(value, ctx)
            except ValueError as exc:
                problem(table, key, f"[{table}] {key} {exc}")
                continue
            if table == "lan" and key == "listen":
                values["host"], values["port"] = checked
            else:
                values[spec.field or key] = checked
        for key, spec in keys.items():
            if spec.required and key not in body:
                problem(table, None, f"[{table}] needs {key!r}")
        listen_host = values.get("host", LanSection().host)
        if table == "lan" and values.get("tls") is False and not _loopback(listen_host):
            # Tokens and commands would cross the LAN in clear text (issue 18.5).
            problem(
                "lan",
                "tls",
                "[lan] tls = false is allowed only with a loopback listen address (127.0.0.1, ::1, "
                "localhost): tokens would cross the network in clear text; remove it",
            )
        problems.extend(
            ConfigProblem(name, lines.get((table, None), 0), m) for m in _cross_checks(table, values, body)
        )
        known = {f.name for f in fields(section_type)}
        sections[table] = section_type(**{k: v for k, v in values.items() if k in known})
    if problems:
        problems.sort(key=lambda p: p.line)
        raise ConfigError(problems)
    zwave = sections.get("zwave")
    if zwave is not None and zwave.security_keys is None:
        # The keys file defaults into the data directory, which only [hub] knows (CONTRACT 9.1).
        data_dir = sections["hub"].data_dir if "hub" in sections else HubSection().data_dir
        sections["zwave"] = replace(zwave, security_keys=data_dir / "zwave-keys.json")
    return Config(path=Path(name), **sections)


def _cross_checks(table: str, values: Mapping[str, Any], body: Mapping[str, Any]) -> list[str]:
    """Rules that involve more than one key of a section."""
    out = []
    if table == "zigbee" and values.get("radio") not in (None, "sim") and "port" not in body:
        out.append("[zigbee] needs 'port' unless radio = \"sim\"")
    if table == "hub" and ("latitude" in body) != ("longitude" in body):
        out.append("[hub] latitude and longitude go together")
    mqtts = str(values.get("url", "")).startswith("mqtts://")
    if table == "cloud" and mqtts and values.get("protocol") != "mqtt":
        out.append('[cloud] an mqtts:// url needs protocol = "mqtt" (the default, "ws", speaks WebSocket)')
    if table == "ota" and "slots_dir" in body and values.get("backend", "rauc") != "dir":
        out.append('[ota] slots_dir is for backend = "dir" only')
    return out


def _suggest(word: str, choices: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)
