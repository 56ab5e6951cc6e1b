"""The event bus: inline handlers first, bounded queues per subscriber, overflow counted, never blocking."""

from __future__ import annotations

import asyncio

import pytest

from hub_core.bus import EventBus, Overflow, SubscriptionClosed
from hub_core.model import DeviceId, HubEvent, StateChanged


def event(n: int) -> StateChanged:
    return StateChanged(DeviceId("zwave-2"), "level", n)


async def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = EventBus()
    first, second = bus.subscribe("a"), bus.subscribe("b")
    for n in range(5):
        bus.publish(event(n))
    assert [(await first.get()).value for _ in range(5)] == [0, 1, 2, 3, 4]  # type: ignore[union-attr]
    assert [second.get_nowait().value for _ in range(5)] == [0, 1, 2, 3, 4]  # type: ignore[union-attr]


async def test_a_full_queue_drops_the_oldest_and_counts_it(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    slow = bus.subscribe("slow", maxsize=3)
    for n in range(10):
        bus.publish(event(n))
    assert slow.dropped == 7
    assert [slow.get_nowait().value for _ in range(3)] == [7, 8, 9]  # type: ignore[union-attr]
    assert "subscriber slow: queue full" in caplog.text


async def test_overflow_close_ends_the_subscription_so_the_consumer_can_resync() -> None:
    bus = EventBus()
    client = bus.subscribe("lan-client", maxsize=2, overflow=Overflow.CLOSE)
    for n in range(3):
        bus.publish(event(n))
    assert client.closed and client.overflowed and client.dropped == 1
    assert client not in bus.subscriptions
    assert [e.value async for e in client] == [0, 1]  # type: ignore[union-attr]
    with pytest.raises(SubscriptionClosed):
        await client.get()


async def test_a_slow_subscriber_never_delays_inline_handlers() -> None:
    bus = EventBus()
    seen: list[HubEvent] = []
    bus.add_handler(seen.append)
    bus.subscribe("never-reads", maxsize=1)
    for n in range(1000):
        bus.publish(event(n))
    assert len(seen) == 1000  # all delivered synchronously, while the subscriber holds one


async def test_a_failing_handler_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[HubEvent] = []

    def broken(_: HubEvent) -> None:
        raise RuntimeError("boom")

    bus.add_handler(broken)
    bus.add_handler(seen.append)
    sub = bus.subscribe("s")
    bus.publish(event(1))
    assert len(seen) == 1 and len(sub) == 1
    assert bus.handler_errors == 1
    assert "boom" in caplog.text


async def test_a_waiting_consumer_wakes_on_publish_and_on_close() -> None:
    bus = EventBus()
    sub = bus.subscribe("s")
    waiter = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    bus.publish(event(42))
    assert (await waiter).value == 42  # type: ignore[union-attr]
    waiter = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    sub.close()
    with pytest.raises(SubscriptionClosed):
        await waiter


async def test_removing_a_handler() -> None:
    bus = EventBus()
    seen: list[HubEvent] = []
    remove = bus.add_handler(seen.append)
    remove()
    remove()  # twice is harmless
    bus.publish(event(1))
    assert seen == []
