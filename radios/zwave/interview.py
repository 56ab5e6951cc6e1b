"""The interview of one node: CC versions, manufacturer, end points, supported features, lifeline.

Rules of this file: the interview is data-driven by the command class package: `interview_queries`
says which Gets to send per CC and version, `interview_follow_ups` which further Gets a report asks
for, `answers` which report answers which Get, and `NodeCapabilities.absorb` folds each report into
the node's capabilities. This file only decides the order and talks over a `Link`. A question the
node does not answer is logged and skipped, never fatal, so a half-broken device still gets
whatever works.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Protocol

from radios.zwave.cc import CCCommand, CommandClass, interview_follow_ups, interview_queries
from radios.zwave.cc.management import AssociationSet, WakeUpIntervalSet
from radios.zwave.node import NodeRecord

log = logging.getLogger(__name__)

#: Wake-up interval we ask sleeping nodes for (seconds): hourly, a common battery-friendly default.
WAKE_UP_INTERVAL = 3600
LIFELINE_GROUP = 1
#: Asked first: versions decide what else to ask; the manufacturer and end points come next.
FIRST = (CommandClass.VERSION, CommandClass.MANUFACTURER_SPECIFIC, CommandClass.MULTI_CHANNEL)
#: Node-wide facts, asked of the root only.
ROOT_ONLY = frozenset(
    {CommandClass.VERSION, CommandClass.MANUFACTURER_SPECIFIC, CommandClass.WAKE_UP, CommandClass.ASSOCIATION}
)


class Link(Protocol):
    """How the interview talks to a node (the radio implements it over the controller)."""

    async def query(self, node_id: int, request: CCCommand, endpoint: int = 0) -> CCCommand | None:
        """Send a Get; return the report that answers it, or None if none came in time."""

    async def send(self, node_id: int, command: CCCommand, endpoint: int = 0) -> bool:
        """Send a command; True if the node acknowledged it."""


class Interview:
    """The interview of one node over a link; `run()` fills `record.caps` and marks it interviewed."""

    def __init__(self, record: NodeRecord, link: Link, controller_node_id: int) -> None:
        self.record = record
        self.link = link
        self.controller_node_id = controller_node_id
        self.asked = 0
        self.unanswered = 0

    async def _ask_all(self, requests: list[CCCommand], endpoint: int) -> None:
        """Ask each Get, absorbing answers and asking their follow-ups right after them."""
        queue = deque(requests)
        while queue:
            request = queue.popleft()
            self.asked += 1
            report = await self.link.query(self.record.node_id, request, endpoint)
            if report is None:
                self.unanswered += 1
                log.info("zwave: node %d ep %d did not answer %r", self.record.node_id, endpoint, request)
                continue
            record = self.record
            record.caps = record.caps.absorb(report, endpoint)
            queue.extendleft(reversed(interview_follow_ups(report, record.caps.endpoint(endpoint))))

    def _queries(self, cc: int, endpoint: int) -> list[CCCommand]:
        caps = self.record.caps.endpoint(endpoint)
        # End points share the root's versions (SDS13781 Multi Channel).
        version = self.record.caps.version(cc) or caps.version(cc)
        return interview_queries(cc, version, caps)

    async def run(self) -> None:
        """The whole interview: versions, manufacturer, end points, each CC's features, then setup."""
        record = self.record
        node = record.node_id
        log.info("zwave: interviewing node %d (%s)", node, "sleeping" if record.sleeping else "listening")
        for first in FIRST:
            if record.supports(first):
                await self._ask_all(self._queries(first, 0), 0)
        for endpoint in (0, *sorted(record.caps.endpoints)):
            for cc in sorted(record.caps.endpoint(endpoint).ccs):
                if cc in FIRST or (endpoint and cc in ROOT_ONLY):
                    continue
                await self._ask_all(self._queries(cc, endpoint), endpoint)
        if record.supports(CommandClass.ASSOCIATION):
            # Group 1 is the lifeline: where the node sends its reports (Z-Wave Plus role types).
            lifeline = AssociationSet(LIFELINE_GROUP, (self.controller_node_id,))
            record.lifeline = await self.link.send(node, lifeline)
        if record.supports(CommandClass.WAKE_UP):
            await self.link.send(node, WakeUpIntervalSet(WAKE_UP_INTERVAL, self.controller_node_id))
        if self.asked and self.unanswered == self.asked:
            log.warning("zwave: node %d answered none of %d questions; interview postponed", node, self.asked)
            return
        record.interviewed = True
        log.info(
            "zwave: node %d interviewed: %d CC(s), %d end point(s), %d of %d question(s) unanswered",
            node,
            len(record.caps.ccs),
            len(record.caps.endpoints),
            self.unanswered,
            self.asked,
        )
