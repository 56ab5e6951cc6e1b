"""The one error root of hub-agent and its small tree.

    HubError
    ├── ConfigError                  bad configuration; carries every problem found
    ├── CommandError                 a command could not be carried out
    │   ├── UnknownDevice            no such device id                     (LAN 404)
    │   ├── InvalidCommand           bad command name or args              (LAN 422)
    │   ├── RadioUnavailable         the radio for the device is down
    │   ├── DeliveryFailed           the radio said the device did not get it
    │   └── DeliveryTimeout          no confirmation in time (also TimeoutError, LAN 504)
    ├── RuleError                    a rule is invalid; carries every (JSON path, message)  (LAN 422)
    ├── StoreError                   the SQLite store failed
    ├── ProtocolError                malformed bytes or messages from a peer
    └── ServiceUnavailable           a part cannot start (port in use, ...); carries what to do

Every error carries context as attributes, not only as text, so callers can map it to a
status code or a log field without parsing the message.
"""

from __future__ import annotations

from dataclasses import dataclass


class HubError(Exception):
    """Root of every error hub-agent raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration file, printed as `file:line: message`."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(HubError):
    """The configuration is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class CommandError(HubError):
    """A command could not be carried out; `code` is the stable machine-readable reason."""

    code = "command_failed"

    def __init__(self, message: str, *, device: str | None = None) -> None:
        self.device = device
        super().__init__(message)


class UnknownDevice(CommandError):
    """No device has this id."""

    code = "unknown_device"


class InvalidCommand(CommandError):
    """The command name or its arguments are not valid for the device."""

    code = "invalid_command"


class RadioUnavailable(CommandError):
    """The radio that serves the device is not running (unplugged, restarting, disabled)."""

    code = "radio_unavailable"


class DeliveryFailed(CommandError):
    """The radio reports that the device did not receive the command."""

    code = "delivery_failed"


class DeliveryTimeout(CommandError, TimeoutError):
    """No delivery confirmation arrived in time."""

    code = "timeout"


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One problem in a rule, located by its JSON path, e.g. `$.actions[2].seconds`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class RuleError(HubError):
    """A rule is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class StoreError(HubError):
    """The persistent store failed (disk full, corrupt file, schema too new)."""


class ProtocolError(HubError):
    """A peer sent malformed bytes or messages; the message names what was wrong."""


class ServiceUnavailable(HubError):
    """A part of the hub cannot start; the message says why and `hint` what the user can do."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.hint = hint
        super().__init__(f"{message}; {hint}" if hint else message)
