"""In-process event fan-out: inline handlers first, then one bounded queue per subscriber.

Rules of this file: `publish` never awaits and never blocks. Inline handlers are for the hot path
(the rules engine deciding what to send) and must return in microseconds; everything else (LAN
clients, the cloud outbox, the store) reads from its own bounded queue, so a slow subscriber can
only hurt itself. Overflow is counted per subscriber and logged, never silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from hub_core.model import HubEvent

log = logging.getLogger(__name__)

InlineHandler = Callable[[HubEvent], None]


class Overflow(StrEnum):
    """What a full subscriber queue does with the next event."""

    DROP_OLDEST = "drop_oldest"  # keep the newest events (telemetry-like consumers)
    CLOSE = "close"  # end the subscription; the consumer resynchronises (LAN clients, the cloud outbox)


class SubscriptionClosed(Exception):
    """The subscription was closed, by its owner or because it overflowed with Overflow.CLOSE."""


class Subscription:
    """A bounded queue of events for one consumer; iterate it or call `get()`."""

    def __init__(self, bus: EventBus, name: str, maxsize: int, overflow: Overflow) -> None:
        self.name = name
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0
        self.closed = False
        self.overflowed = False
        self._bus = bus
        self._queue: deque[HubEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def _offer(self, event: HubEvent) -> None:
        if self.closed:
            return
        if len(self._queue) >= self.maxsize:
            self.dropped += 1
            if self.overflow is Overflow.CLOSE:
                self.overflowed = True
                log.warning("subscriber %s: queue full (%d), closing it", self.name, self.maxsize)
                self.close()
                return
            self._queue.popleft()
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("subscriber %s: queue full, %d events dropped so far", self.name, self.dropped)
        self._queue.append(event)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def get_nowait(self) -> HubEvent | None:
        """The next queued event, or None if there is none."""
        return self._queue.popleft() if self._queue else None

    async def get(self) -> HubEvent:
        """Wait for the next event; raise SubscriptionClosed once closed and drained."""
        while not self._queue:
            if self.closed:
                raise SubscriptionClosed(self.name)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> HubEvent:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving events; queued events can still be read."""
        if not self.closed:
            self.closed = True
            self._bus._remove(self)
            self._wake()


class EventBus:
    """Fan-out of HubEvents to inline handlers and bounded subscriber queues."""

    def __init__(self) -> None:
        self._handlers: list[InlineHandler] = []
        self._subscriptions: list[Subscription] = []
        self.published = 0
        self.handler_errors = 0

    def add_handler(self, handler: InlineHandler) -> Callable[[], None]:
        """Call `handler(event)` synchronously on every publish; returns a remover."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler) if handler in self._handlers else None

    def subscribe(
        self, name: str, maxsize: int = 1000, overflow: Overflow = Overflow.DROP_OLDEST
    ) -> Subscription:
        """A new bounded subscription that receives every event published from now on."""
        subscription = Subscription(self, name, maxsize, overflow)
        self._subscriptions.append(subscription)
        return subscription

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The live subscriptions (for metrics)."""
        return tuple(self._subscriptions)

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def publish(self, event: HubEvent) -> None:
        """Deliver `event` to every handler, then every subscription; never blocks."""
        self.published += 1
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:
                # One broken consumer must not stop the others or the radio that published.
                self.handler_errors += 1
                log.exception("event handler %r failed on %s", handler, type(event).__name__)
        for subscription in tuple(self._subscriptions):
            subscription._offer(event)
