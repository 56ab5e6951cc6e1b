"""Certificate expiry watch and renewal over the link itself, with an atomic swap of the cert file."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from test_cloud_harness import (
    HUB_ID,
    ScaledClock,
    build_agent,
    next_message,
    pki_for,
    relay_for,
    running,
    write_config,
)
from test_cloud_tls import reissue_hub_cert

from hub_agent.cloud import pki
from hub_agent.cloud.link import LinkState
from hub_agent.cloud.protocol import Certificate, CertRenewal, CertStatus
from hub_agent.cloud.renewal import CertificateKeeper
from hub_agent.store.settings import get_setting

NOW = dt.datetime.now(dt.UTC)


async def test_an_expiring_certificate_is_renewed_over_the_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = pki_for(tmp_path)
    reissue_hub_cert(paths, NOW - dt.timedelta(days=355), NOW + dt.timedelta(days=10))
    old = pki.load_certificate(paths.hub_cert)
    async with relay_for(paths, renew_days=90) as relay:
        agent = await build_agent(write_config(tmp_path, paths, relay.url), devices=False)
        with caplog.at_level(logging.WARNING, logger="hub_agent.cloud"):
            async with running(agent):
                await agent.connected()
                request = await next_message(relay, "cert_renewal")
                assert isinstance(request, CertRenewal)
                assert request.not_after is not None and request.not_after.startswith(
                    old.not_valid_after_utc.strftime("%Y-%m-%d")
                )
                status = await next_message(relay, "cert_status")
                assert isinstance(status, CertStatus) and status.status == "installed", status
                new = pki.load_certificate(paths.hub_cert)
                assert new.serial_number != old.serial_number
                assert new.not_valid_after_utc > NOW + dt.timedelta(days=85)
                assert pki.common_name(new) == HUB_ID
                # Same key: the hub id derives from it.
                spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
                assert new.public_key().public_bytes(*spki) == old.public_key().public_bytes(*spki)
                assert agent.link.status["cert_not_after"] == status.not_after
                saved = await agent.runtime.db.read(lambda c: get_setting(c, "cloud.status"))
                assert saved["cert_not_after"] == status.not_after
                # The next connection uses the new certificate.
                await relay.kill()
                await relay.start()
                await agent.connected()
                await relay.wait_connected()
                assert agent.link.state is LinkState.CONNECTED
    assert "hub certificate expires" in caplog.text
    assert not list(paths.hub_cert.parent.glob(".*.tmp"))


async def test_a_certificate_for_another_key_is_rejected_and_the_old_one_kept(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    before = paths.hub_cert.read_bytes()
    ca, ca_key = pki.load_certificate(paths.ca_cert), pki.load_key(paths.ca_key)
    stranger = ec.generate_private_key(ec.SECP256R1())
    wrong = pki.issue(
        ca,
        ca_key,
        stranger.public_key(),
        HUB_ID,
        not_before=NOW - dt.timedelta(hours=1),
        not_after=NOW + dt.timedelta(days=400),
        client=True,
    )
    async with relay_for(paths) as relay:
        agent = await build_agent(write_config(tmp_path, paths, relay.url), devices=False)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            await relay.send(Certificate(pki.pem(wrong).decode()))
            status = await next_message(relay, "cert_status")
            assert (status.status, status.error) == (
                "rejected",
                "the certificate is for a different key than the hub's",
            )
            key = pki.load_key(paths.hub_key)
            older = pki.issue(
                ca,
                ca_key,
                key.public_key(),
                HUB_ID,
                not_before=NOW - dt.timedelta(hours=1),
                not_after=NOW + dt.timedelta(days=30),
                client=True,
            )
            await relay.send(Certificate(pki.pem(older).decode()))
            status = await next_message(relay, "cert_status")
            assert status.status == "rejected" and "does not expire later" in (status.error or "")
            await relay.send_raw('{"type":"certificate","cert":"-----BEGIN CERTIFICATE-----\\ngarbage"}')
            status = await next_message(relay, "cert_status")
            assert status.status == "rejected" and "no PEM CERTIFICATE block" in (status.error or "")
    assert paths.hub_cert.read_bytes() == before


async def test_a_fresh_certificate_is_not_renewed(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)  # valid for a year
    async with relay_for(paths) as relay:
        agent = await build_agent(write_config(tmp_path, paths, relay.url), devices=False)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            snapshot = await relay.request_snapshot()  # a round trip after hello
            assert snapshot.devices == []
            kinds = []
            while not relay.messages.empty():
                kinds.append((await relay.messages.get())[1].type.value)
            assert "cert_renewal" not in kinds


def test_the_keeper_asks_once_per_connection_and_only_within_30_days(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = pki_for(tmp_path)
    reissue_hub_cert(paths, NOW - dt.timedelta(days=300), NOW + dt.timedelta(days=45))
    clock = ScaledClock()
    keeper = CertificateKeeper(paths.hub_cert, paths.hub_key, HUB_ID, clock)
    assert keeper.renewal_request(1) is None  # 45 days left: nothing to do yet
    clock.wall_offset = 20 * 86400.0  # 25 days left
    with caplog.at_level(logging.WARNING, logger="hub_agent.cloud"):
        first = keeper.renewal_request(1)
        assert first is not None and keeper.renewal_request(1) is None
        second = keeper.renewal_request(2)
    assert second is not None
    assert caplog.text.count("hub certificate expires") == 1  # once a day, not per request
    csr = x509.load_pem_x509_csr(first.csr.encode())
    assert csr.is_signature_valid and csr.subject.rfc4514_string() == f"CN={HUB_ID}"
    clock.wall_offset = 60 * 86400.0  # expired by the hub's clock: still ask, and explain
    assert keeper.renewal_request(3) is not None
    assert "(it expired at" in keeper.explain_rejection("rejected")
