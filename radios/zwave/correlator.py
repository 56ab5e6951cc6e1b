"""Which received report answers which pending Get, and which Supervision Report which session.

Rules of this file: no I/O. A sender registers what it waits for (`expect_report`,
`expect_supervision`) and awaits the returned future; every received command is offered with `offer`,
which resolves the matching waiters. The sender always `forget`s its entry, answered or not, so the
tables hold only live waiters (bounded by the callers in flight).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from radios.zwave.cc import CCCommand, SupervisionReport, answers

#: Supervision session ids are 6 bits (SDS13783 Supervision CC); 0 is kept for "none".
SESSION_IDS = 0x3F


@dataclass(slots=True)
class _Query:
    node_id: int
    endpoint: int
    request: CCCommand
    future: asyncio.Future[CCCommand]


class Correlator:
    """Pending Get -> Report waits and Supervision sessions."""

    def __init__(self) -> None:
        self._queries: list[_Query] = []
        self._sessions: dict[int, asyncio.Future[SupervisionReport]] = {}
        self._session = 0

    def expect_report(self, node_id: int, endpoint: int, request: CCCommand) -> asyncio.Future[CCCommand]:
        """A future resolved by the first report from (node, end point) that answers `request`."""
        future: asyncio.Future[CCCommand] = asyncio.get_running_loop().create_future()
        self._queries.append(_Query(node_id, endpoint, request, future))
        return future

    def new_session(self) -> int:
        """The next Supervision session id (1..63, wrapping)."""
        self._session = self._session % SESSION_IDS + 1
        return self._session

    def expect_supervision(self, session: int) -> asyncio.Future[SupervisionReport]:
        """A future resolved by the final Supervision Report of `session`."""
        future: asyncio.Future[SupervisionReport] = asyncio.get_running_loop().create_future()
        self._sessions[session] = future
        return future

    def forget(self, future: asyncio.Future[CCCommand] | asyncio.Future[SupervisionReport]) -> None:
        """Drop a waiter (answered, timed out or cancelled)."""
        self._queries = [q for q in self._queries if q.future is not future]
        for session, waiting in list(self._sessions.items()):
            if waiting is future:
                del self._sessions[session]

    def offer(self, node_id: int, endpoint: int, command: CCCommand) -> bool:
        """Resolve the waiters `command` answers; True if it was a Supervision Report (consumed)."""
        if isinstance(command, SupervisionReport):
            future = self._sessions.get(command.session_id)
            if future is not None and not future.done() and not command.more_updates:
                future.set_result(command)
            return True
        for query in self._queries:
            if (
                query.node_id == node_id
                and query.endpoint == endpoint
                and not query.future.done()
                and answers(query.request, command)
            ):
                query.future.set_result(command)
        return False

    def fail_all(self, exc: Exception) -> None:
        """Fail every pending Supervision wait (the stick restarted or the radio stopped)."""
        for future in self._sessions.values():
            if not future.done():
                future.set_exception(exc)
