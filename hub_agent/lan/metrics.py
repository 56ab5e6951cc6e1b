"""`/metrics`: the hub's counters in Prometheus text format, from its own CollectorRegistry.

Rules of this file: the hub core and the bus keep plain integer counters (cheap on the hot path);
this collector reads them only when scraped. Only what the LAN server itself measures (its
command latency, requests, WebSocket clients) is a prometheus-client metric object.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub_agent.hub import Hub
from hub_core import ratelog
from radios.base import RadioState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Command latency buckets in seconds: local control lives in the low milliseconds, 504 at 10 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _HubCollector(Collector):
    """Reads the hub's, the bus's and the radios' counters at scrape time."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self._hub
        bus = hub.bus
        events = CounterMetricFamily("hub_events_in", "Device events received from the radios")
        events.add_metric([], hub.events_in)
        yield events
        rejected = CounterMetricFamily("hub_events_rejected", "Radio events dropped as invalid")
        rejected.add_metric([], hub.events_rejected)
        yield rejected
        published = CounterMetricFamily("hub_bus_published", "Events published on the event bus")
        published.add_metric([], bus.published)
        yield published
        handler_errors = CounterMetricFamily("hub_bus_handler_errors", "Inline bus handlers that raised")
        handler_errors.add_metric([], bus.handler_errors)
        yield handler_errors
        commands = CounterMetricFamily("hub_commands", "Commands sent through the hub", labels=["result"])
        commands.add_metric(["ok"], hub.commands_ok)
        commands.add_metric(["failed"], hub.commands_failed)
        yield commands
        depth = GaugeMetricFamily(
            "hub_bus_queue_depth", "Events waiting in each subscriber's queue", labels=["subscriber"]
        )
        dropped = CounterMetricFamily(
            "hub_bus_dropped", "Events each subscriber lost to a full queue", labels=["subscriber"]
        )
        for subscription in bus.subscriptions:
            depth.add_metric([subscription.name], len(subscription))
            dropped.add_metric([subscription.name], subscription.dropped)
        yield depth
        yield dropped
        radios = GaugeMetricFamily(
            "hub_radio_state", "1 for each radio's current state", labels=["protocol", "state"]
        )
        for protocol, radio in sorted(hub.radios.items()):
            for state in RadioState:
                radios.add_metric([protocol.value, state.value], 1.0 if radio.state is state else 0.0)
        yield radios
        counted = CounterMetricFamily(
            "hub_radio_events",
            "What each radio counted since start (reconnects, refusals, verify Gets ...)",
            labels=["protocol", "counter"],
        )
        for protocol, radio in sorted(hub.radios.items()):
            for name, value in radio.counters().items():
                counted.add_metric([protocol.value, name], value)
        yield counted
        devices = hub.devices()
        count = GaugeMetricFamily("hub_devices", "Known devices", labels=["online"])
        online = sum(1 for d in devices if d.online)
        count.add_metric(["true"], online)
        count.add_metric(["false"], len(devices) - online)
        yield count
        yield from _log_counters(ratelog.LIMITER)


def _log_counters(limiter: ratelog.LogLimiter) -> Iterator[Metric]:
    logged = CounterMetricFamily(
        "hub_log_events", "Occurrences of each rate-limited log cause", labels=["cause"]
    )
    held = CounterMetricFamily(
        "hub_log_suppressed", "Log lines held back by the per-cause rate limit", labels=["cause"]
    )
    for cause, count in sorted(limiter.counts.items()):
        logged.add_metric([cause], count)
        held.add_metric([cause], limiter.suppressed.get(cause, 0))
    yield logged
    yield held


class LanMetrics:
    """The LAN server's registry: the hub collector plus what the server measures itself."""

    def __init__(self, hub: Hub) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_HubCollector(hub))
        self.command_seconds = Histogram(
            "hub_lan_command_seconds",
            "LAN command latency, request to radio confirmation",
            labelnames=["result"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "hub_lan_requests", "LAN API requests", labelnames=["route", "status"], registry=self.registry
        )
        self.auth_failures = Counter(
            "hub_lan_auth_failures", "Rejected tokens and pairing attempts", registry=self.registry
        )
        self.ws_clients = Gauge(
            "hub_lan_ws_clients", "Connected event WebSocket clients", registry=self.registry
        )
        self.refused = Counter(
            "hub_lan_connections_refused",
            "TCP connections the LAN server refused or closed at a limit",
            labelnames=["reason"],
            registry=self.registry,
        )
        self.ws_disconnects = Counter(
            "hub_lan_ws_disconnects",
            "Event WebSocket clients disconnected by the hub",
            labelnames=["reason"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        return generate_latest(self.registry)
