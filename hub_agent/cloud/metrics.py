"""The cloud link's counters for `/metrics` (read at scrape time; the link keeps plain integers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub_agent.cloud.outbox import Outbox
from hub_agent.cloud.requests import RequestDesk

#: Every state the link can be in (link.LinkState values), so a dashboard sees each one as 0 or 1.
STATES = ("connected", "connecting", "backoff", "auth_failed", "disabled", "not_provisioned")


class LinkCounters(Protocol):
    """What the collector reads from the link."""

    connections: int
    events_sent: int
    bad_messages: int
    outbox: Outbox
    requests: RequestDesk

    @property
    def state_name(self) -> str:
        """The link's state as a string (one of STATES)."""


class CloudCollector(Collector):
    """`hub_cloud_*`: the link's state (auth_failed included), connections, outbox, refusals."""

    def __init__(self, link: LinkCounters, protocol: str) -> None:
        self._link = link
        self._protocol = protocol

    def collect(self) -> Iterator[Metric]:
        link = self._link
        state = GaugeMetricFamily(
            "hub_cloud_state", "1 for the cloud link's current state", labels=["state", "protocol"]
        )
        for name in STATES:
            state.add_metric([name, self._protocol], 1.0 if link.state_name == name else 0.0)
        yield state
        for name, help_text, value in (
            ("hub_cloud_connections", "Cloud sessions established", link.connections),
            ("hub_cloud_bad_messages", "Cloud frames refused as malformed", link.bad_messages),
            ("hub_cloud_events_dropped", "Outbox events dropped at its limit", link.outbox.dropped),
            ("hub_cloud_answers_dropped", "Answers lost while offline", link.requests.answers_dropped),
        ):
            counter = CounterMetricFamily(name, help_text)
            counter.add_metric([], value)
            yield counter
        rows = GaugeMetricFamily("hub_cloud_outbox_rows", "Events on disk not yet acknowledged")
        rows.add_metric([], link.outbox.count)
        yield rows
        refused = CounterMetricFamily(
            "hub_cloud_requests_refused", "Cloud requests answered with a refusal", labels=["reason"]
        )
        for reason, count in sorted(link.requests.refused.items()):
            refused.add_metric([reason], count)
        yield refused
