"""Fixtures for the Z-Wave tests: the zwave-js mock controller peer (tests/peers/zwave)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from zwave_peer import PeerMissing, ZWavePeer


def _start(nodes: list[dict[str, Any]] | None) -> ZWavePeer:
    peer = ZWavePeer(nodes)
    try:
        peer.start()
    except PeerMissing as exc:
        # A missing peer is a broken setup, not a reason to skip: CI installs it.
        pytest.fail(str(exc), pytrace=False)
    return peer


@pytest.fixture
def zwave_peer() -> Iterator[ZWavePeer]:
    """zwave-js's MockController with the default household (nodes 2-8), on a loopback port."""
    peer = _start(None)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def zwave_peer_factory() -> Iterator[Callable[[list[dict[str, Any]]], ZWavePeer]]:
    """Start mock controllers with chosen MockNode options; all are stopped after the test."""
    started: list[ZWavePeer] = []

    def make(nodes: list[dict[str, Any]]) -> ZWavePeer:
        peer = _start(nodes)
        started.append(peer)
        return peer

    try:
        yield make
    finally:
        for peer in started:
            peer.stop()
