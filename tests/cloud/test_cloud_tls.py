"""Identity and trust: wrong CA, expired and not-yet-valid certs, wrong hostname, impostors, back-off."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from test_cloud_harness import (
    HUB_ID,
    ScaledClock,
    build_agent,
    pki_for,
    relay_for,
    running,
    write_config,
)

from hub_agent.cloud import pki
from hub_agent.cloud.devcloud import DevPki, make_dev_pki
from hub_agent.cloud.link import LinkState, pong_timeout
from hub_core.backoff import Backoff

NOW = dt.datetime.now(dt.UTC)


def reissue_hub_cert(paths: DevPki, not_before: dt.datetime, not_after: dt.datetime) -> None:
    """Replace the hub's client certificate with one of the given validity (same CA, same key)."""
    ca, ca_key = pki.load_certificate(paths.ca_cert), pki.load_key(paths.ca_key)
    key = pki.load_key(paths.hub_key)
    cert = pki.issue(
        ca, ca_key, key.public_key(), HUB_ID, not_before=not_before, not_after=not_after, client=True
    )
    pki.write_atomically(paths.hub_cert, pki.pem(cert))


async def refused(
    tmp_path: Path, paths: DevPki, *, hub_id: str = HUB_ID, relay_paths: DevPki | None = None
) -> str:
    """Run an agent against the relay until the link reports auth_failed; return its last error."""
    clock = ScaledClock(speed=1000)
    async with relay_for(relay_paths or paths) as relay:
        agent = await build_agent(
            write_config(tmp_path, paths, relay.url, hub_id=hub_id), clock=clock, devices=False
        )
        async with running(agent):
            async with asyncio.timeout(10):
                await agent.link.wait_for(LinkState.AUTH_FAILED)
            error = agent.link.status["last_error"]
            assert relay.hubs == {}
            # Not a hot loop: the next attempt waits the long auth back-off, not the 1 s start.
            assert clock.sleeps[-1] >= 0.75 * 900
            return str(error)


async def test_a_server_from_the_wrong_ca_is_refused(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    other = make_dev_pki(tmp_path / "other", HUB_ID)
    error = await refused(tmp_path, paths, relay_paths=other)
    assert "certificate verify failed" in error


async def test_a_server_with_the_wrong_hostname_is_refused(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    ca, ca_key = pki.load_certificate(paths.ca_cert), pki.load_key(paths.ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue(
        ca,
        ca_key,
        key.public_key(),
        "cloud.example.com",
        not_before=NOW - dt.timedelta(hours=1),
        not_after=NOW + dt.timedelta(days=30),
        server_names=("cloud.example.com",),
    )
    pki.write_atomically(paths.server_cert, pki.pem(cert))
    pki.write_private_key(paths.server_key, key)
    error = await refused(tmp_path, paths)
    assert "IP address mismatch" in error or "hostname mismatch" in error


async def test_an_expired_hub_certificate_is_refused_by_the_cloud(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    reissue_hub_cert(paths, NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=35))
    error = await refused(tmp_path, paths)
    assert "expired" in error.lower()


async def test_a_not_yet_valid_hub_certificate_is_refused_by_the_cloud(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    reissue_hub_cert(paths, NOW + dt.timedelta(days=2), NOW + dt.timedelta(days=400))
    error = await refused(tmp_path, paths)
    assert "certificate" in error.lower()


async def test_a_hub_claiming_another_id_is_refused(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    error = await refused(tmp_path, paths, hub_id="hub-impostor")
    assert "4403" in error and "hub-impostor" in error


async def test_auth_failures_are_logged_once_not_per_attempt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = pki_for(tmp_path)
    other = make_dev_pki(tmp_path / "other", HUB_ID)
    clock = ScaledClock(speed=1000)
    async with relay_for(other) as relay:
        agent = await build_agent(write_config(tmp_path, paths, relay.url), clock=clock, devices=False)
        agent.link.auth_retry = 10.0  # a short auth back-off, so several attempts happen quickly
        with caplog.at_level(logging.INFO, logger="hub_agent.cloud"):
            async with running(agent):
                async with asyncio.timeout(10):
                    while len([s for s in clock.sleeps if s >= 7.5]) < 4:
                        await agent.link.wait_for(LinkState.AUTH_FAILED)
                        await asyncio.sleep(0.005)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "refused" in r.getMessage()]
    assert len(errors) == 1, [r.getMessage() for r in errors]


async def test_backoff_grows_with_full_jitter_up_to_the_cap_while_the_cloud_is_down(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    clock = ScaledClock(speed=1000)
    backoff = Backoff(1.0, 8.0, random.Random(3))
    async with relay_for(paths) as relay:
        url = relay.url
    agent = await build_agent(
        write_config(tmp_path, paths, url, extra_cloud="backoff_cap = 8\n"),
        clock=clock,
        backoff=backoff,
        devices=False,
    )
    async with running(agent):
        async with asyncio.timeout(10):
            while backoff.attempt < 8:
                await asyncio.sleep(0.005)
    delays = clock.sleeps[:8]
    ceilings = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    assert agent.link.state is LinkState.BACKOFF
    assert "Connect call failed" in agent.link.status["last_error"]


async def test_missing_certificate_means_not_provisioned(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    paths.hub_cert.unlink()
    agent = await build_agent(write_config(tmp_path, paths, "wss://127.0.0.1:9/hub"), devices=False)
    async with running(agent):
        async with asyncio.timeout(5):
            await agent.link.wait_for(LinkState.NOT_PROVISIONED)
        assert "hub-agent provision" in agent.link.status["last_error"]
        assert agent.runtime.facts["cloud"]["state"] == "not_provisioned"


def test_half_open_detection_fits_the_30_second_budget() -> None:
    for interval in (1, 5, 10, 15, 20, 29):
        assert interval + pong_timeout(interval) <= 30


@pytest.mark.parametrize(
    ("not_before", "not_after", "words"),
    [
        (NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=1), "certificate has expired"),
        (NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=400), "certificate is not yet valid"),
    ],
    ids=["expired", "not-yet-valid"],
)
async def test_a_server_certificate_outside_its_validity_is_refused(
    tmp_path: Path, not_before: dt.datetime, not_after: dt.datetime, words: str
) -> None:
    paths = pki_for(tmp_path)
    ca, ca_key = pki.load_certificate(paths.ca_cert), pki.load_key(paths.ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue(
        ca,
        ca_key,
        key.public_key(),
        "relay",
        not_before=not_before,
        not_after=not_after,
        server_names=("127.0.0.1", "localhost"),
    )
    pki.write_atomically(paths.server_cert, pki.pem(cert))
    pki.write_private_key(paths.server_key, key)
    error = await refused(tmp_path, paths)
    assert words in error
