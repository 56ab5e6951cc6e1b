"""What the agent hands each of its parts (rules, LAN API, cloud link) and the shapes they share.

A *part* is anything with a `name` and an `async run()` that works until cancelled; the agent's
supervisor restarts a part whose `run()` raises, with back-off. Parts talk to each other only through
the `Runtime`: the hub core for devices and commands, the bus for events, the store for durability,
and `rules` (the RulesApi below) for rule CRUD from the LAN API and the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from hub_agent.config import Config
from hub_agent.hub import Hub
from hub_agent.store import Database
from hub_core.bus import EventBus
from hub_core.model import JSONObject


class Part(Protocol):
    """A supervised piece of the agent."""

    name: str

    async def run(self) -> None:
        """Work until cancelled; raising means the part crashed and will be restarted."""


class RulesApi(Protocol):
    """Rule CRUD, implemented by local_rules, used by the LAN API and the cloud link."""

    def list_rules(self) -> list[JSONObject]:
        """Every rule's JSON plus `last_fired`/`last_error` runtime fields."""

    def get_rule(self, rule_id: str) -> JSONObject | None:
        """One rule's JSON with runtime fields, or None."""

    async def put_rule(self, rule: object) -> JSONObject:
        """Validate and store a rule (durably); raise RuleError listing every problem."""

    async def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule and its pending actions; False if there was none."""


class RulesPart(Part, RulesApi, Protocol):
    """The rules engine as the agent drives it: `load()` before radios start, then `run()`."""

    def load(self) -> None:
        """Read rules and pending delays from the store and hook into the bus (synchronous)."""


@dataclass(slots=True)
class Runtime:
    """The shared services of one running agent."""

    config: Config
    hub: Hub
    bus: EventBus
    db: Database
    hub_id: str
    version: str
    boot_id: str
    rules: RulesApi | None = None
    #: Free-form facts parts publish for `hub-agent info` and `/health` (e.g. LAN fingerprint).
    facts: dict[str, Any] = field(default_factory=dict)
