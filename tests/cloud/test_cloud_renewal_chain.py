"""Renewal verifies the chain (issue 18 item 2): what the cloud sends is checked, re-encoded, proven.

All against the real cloud path: the dev relay over mutual TLS on 127.0.0.1 sends `certificate`
frames; the hub answers `cert_status`, swaps files, reconnects with the new certificate and rolls
back to the previous one when the cloud refuses it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from test_cloud_harness import (
    HUB_ID,
    Agent,
    build_agent,
    next_message,
    pki_for,
    relay_for,
    running,
    write_config,
)

from hub_agent.cloud import pki
from hub_agent.cloud.devcloud import DevPki, DevRelay
from hub_agent.cloud.link import LinkState
from hub_agent.cloud.protocol import Certificate, CertStatus

NOW = dt.datetime.now(dt.UTC)
LATER = NOW + dt.timedelta(days=400)


def hub_key(paths: DevPki) -> ec.EllipticCurvePrivateKey:
    return pki.load_key(paths.hub_key)


def ca_of(paths: DevPki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    return pki.load_certificate(paths.ca_cert), pki.load_key(paths.ca_key)


def leaf(
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], paths: DevPki, *, client: bool = True
) -> x509.Certificate:
    return pki.issue(
        *issuer,
        hub_key(paths).public_key(),
        HUB_ID,
        not_before=NOW - dt.timedelta(hours=1),
        not_after=LATER,
        client=client,
    )


def authority(
    name: str, root: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A root (that allows one intermediate) or, given `root`, an intermediate under it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer = root or (None, key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root[0].subject if root else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=2))
        .not_valid_after(NOW + dt.timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0 if root else 1), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer[1].public_key()), critical=False
        )
        .sign(signer[1], hashes.SHA256())
    )
    return cert, key


def self_signed_for_the_hub(paths: DevPki) -> x509.Certificate:
    key = hub_key(paths)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HUB_ID)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(LATER)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )


async def offer(relay: DevRelay, text: str) -> CertStatus:
    await relay.send(Certificate(text))
    status = await next_message(relay, "cert_status")
    assert isinstance(status, CertStatus)
    return status


async def connected_agent(tmp_path: Path, paths: DevPki, relay: DevRelay, extra: str = "") -> Agent:
    return await build_agent(write_config(tmp_path, paths, relay.url, extra_cloud=extra), devices=False)


async def test_certificates_that_do_not_chain_to_the_client_ca_are_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    paths = pki_for(tmp_path)
    before = paths.hub_cert.read_bytes()
    good = pki.pem(leaf(ca_of(paths), paths)).decode()
    async with relay_for(paths) as relay:
        agent = await connected_agent(tmp_path, paths, relay)
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            selfish = await offer(relay, pki.pem(self_signed_for_the_hub(paths)).decode())
            assert selfish.status == "rejected"
            assert "does not verify against the client CA" in (selfish.error or "")
            trusted = good.replace("CERTIFICATE", "TRUSTED CERTIFICATE")
            smuggled = await offer(relay, trusted + good)
            assert smuggled.status == "rejected"
            assert smuggled.error == "block 1 is a TRUSTED CERTIFICATE, not a CERTIFICATE"
            server_eku = await offer(relay, pki.pem(leaf(ca_of(paths), paths, client=False)).decode())
            assert server_eku.status == "rejected" and "EKU" in (server_eku.error or "")
            junk = await offer(relay, good + "\nrm -rf /\n")
            assert junk.status == "rejected" and junk.error == "text outside the PEM blocks"
            assert agent.link.certificate.installed == 0
            assert agent.link.state is LinkState.CONNECTED
    assert paths.hub_cert.read_bytes() == before
    assert not list(paths.hub_cert.parent.glob(".*.new")) and not agent.link.certificate.on_probation


async def test_a_chain_through_an_intermediate_is_installed_re_encoded_and_proven(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    fleet_root = authority("hub fleet root CA")
    issuing = authority("hub fleet issuing CA", fleet_root)
    anchors = tmp_path / "client-anchors.pem"  # the cloud moves its fleet to a new root
    anchors.write_bytes(paths.ca_cert.read_bytes() + pki.pem(fleet_root[0]))
    new = leaf(issuing, paths)
    # The cloud's text: intermediate PEM with Windows line ends and a trailing blank line.
    text = pki.pem(new).decode() + pki.pem(issuing[0]).decode().replace("\n", "\r\n") + "\n\n"
    relay = DevRelay(server_cert=paths.server_cert, server_key=paths.server_key, client_ca=anchors)
    await relay.start()
    try:
        agent = await connected_agent(tmp_path, paths, relay, f'client_ca = "{anchors}"\n')
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            status = await offer(relay, text)
            assert status.status == "installed", status
            # Exactly the verified leaf and intermediate, as we encode them; not the cloud's bytes.
            assert paths.hub_cert.read_bytes() == pki.pem(new) + pki.pem(issuing[0])
            # The hub reconnects with it at once; the cloud accepts it; the old one is let go.
            async with asyncio.timeout(10):
                while relay.connections < 2:
                    await agent.link.wait_for(LinkState.BACKOFF)
                    await agent.link.wait_for(LinkState.CONNECTED)
            hub = await relay.wait_connected()
            assert int(hub.ws.transport.get_extra_info("peercert")["serialNumber"], 16) == new.serial_number
            assert not agent.link.certificate.on_probation
            assert agent.link.certificate.rolled_back == 0
    finally:
        await relay.stop()


async def test_a_renewed_certificate_the_cloud_refuses_is_rolled_back(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    before = paths.hub_cert.read_bytes()
    # The hub is told to also trust a second issuer the cloud itself does not accept (a CA mix-up).
    other_ca = pki.make_ca("another fleet CA", NOW)
    client_ca = tmp_path / "client-ca.pem"
    client_ca.write_bytes(paths.ca_cert.read_bytes() + pki.pem(other_ca[0]))
    async with relay_for(paths) as relay:
        agent = await connected_agent(tmp_path, paths, relay, f'client_ca = "{client_ca}"\n')
        async with running(agent):
            await agent.connected()
            await relay.wait_connected()
            status = await offer(relay, pki.pem(leaf(other_ca, paths)).decode())
            assert status.status == "installed", status
            async with asyncio.timeout(20):
                while agent.link.certificate.rolled_back == 0:
                    await agent.link.wait_for(LinkState.BACKOFF)
                    await agent.link.wait_for(LinkState.CONNECTING, LinkState.CONNECTED)
                await agent.connected()
            assert agent.link.certificate.rolled_back == 1
            await relay.wait_connected()
            assert paths.hub_cert.read_bytes() == before
            assert not agent.link.certificate.on_probation
            assert (await relay.request_snapshot()).devices == []
