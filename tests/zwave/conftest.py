"""Fixtures for the Z-Wave tests: the zwave-js mock controller peer (tests/peers/zwave).

One launcher process serves the whole session (starting zwave-js takes most of a second); every
test gets a fresh network on it through the launcher's `reset` command.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from zwave_peer import PeerMissing, ZWavePeer


@pytest.fixture(scope="session")
def _zwave_mock_process() -> Iterator[ZWavePeer]:
    peer = ZWavePeer([])
    try:
        peer.start()
    except PeerMissing as exc:
        # A missing peer is a broken setup, not a reason to skip: CI installs it.
        pytest.fail(str(exc), pytrace=False)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def zwave_peer(_zwave_mock_process: ZWavePeer) -> ZWavePeer:
    """zwave-js's MockController with the default household (nodes 2-8), on a loopback port."""
    _zwave_mock_process.reset("household")
    return _zwave_mock_process


@pytest.fixture
def zwave_empty_peer(_zwave_mock_process: ZWavePeer) -> ZWavePeer:
    """zwave-js's MockController with no nodes yet (they join by inclusion)."""
    _zwave_mock_process.reset([])
    return _zwave_mock_process
