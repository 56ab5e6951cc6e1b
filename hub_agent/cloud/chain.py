"""Verifying a renewed client certificate chain before the hub trusts it with its identity.

Rules of this file: no network; only the PEM text from the cloud and the configured client CA file.
The text must be nothing but CERTIFICATE blocks (a `TRUSTED CERTIFICATE` or any other block is
refused, not skipped); the leaf must be for the hub's key and CN, carry EKU clientAuth and chain to
the client CA at `now` (cryptography's X.509 verifier, webpki rules, SAN optional for a client).
What comes back is the verified chain re-encoded by us, so the bytes written are never the
cloud's raw text.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from hub_agent.cloud.pki import CertificateProblem, check_new_certificate, pem

#: A leaf and a few intermediates at most; a longer chain is refused.
MAX_CHAIN = 5
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)\r?\n-----END \1-----", re.DOTALL)


def split_certificates(text: str) -> list[x509.Certificate]:
    """Every block of `text`, each a CERTIFICATE, leaf first; CertificateProblem naming what is wrong."""
    blocks = list(_BLOCK.finditer(text))
    if not blocks:
        raise CertificateProblem("no PEM CERTIFICATE block")
    rest = _BLOCK.sub("", text)
    if rest.strip():
        raise CertificateProblem("text outside the PEM blocks")
    if len(blocks) > MAX_CHAIN:
        raise CertificateProblem(f"{len(blocks)} certificates; at most {MAX_CHAIN} are accepted")
    certs = []
    for n, block in enumerate(blocks, start=1):
        if block.group(1) != "CERTIFICATE":
            raise CertificateProblem(f"block {n} is a {block.group(1)}, not a CERTIFICATE")
        try:
            certs.append(x509.load_pem_x509_certificate(block.group(0).encode("ascii")))
        except (ValueError, UnicodeEncodeError) as exc:
            raise CertificateProblem(f"block {n} is not a valid certificate: {exc}") from None
    return certs


def load_anchors(client_ca: Path) -> list[x509.Certificate]:
    """The trust anchors for client certificates; CertificateProblem if the file is unusable."""
    try:
        anchors = x509.load_pem_x509_certificates(client_ca.read_bytes())
    except (OSError, ValueError) as exc:
        raise CertificateProblem(f"cannot read the client CA {client_ca}: {exc}") from None
    if not anchors:
        raise CertificateProblem(f"the client CA {client_ca} holds no certificate")
    return anchors


def verified_chain(
    text: str,
    client_ca: Path,
    key: ec.EllipticCurvePrivateKey,
    hub_id: str,
    now: dt.datetime,
) -> list[x509.Certificate]:
    """The leaf and intermediates of `text`, verified for this hub (the trust anchor is left out)."""
    leaf, *intermediates = split_certificates(text)
    check_new_certificate(pem(leaf).decode("ascii"), key, hub_id, now)
    leaf_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store(load_anchors(client_ca)))
        .time(now)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=leaf_policy)
        .build_client_verifier()
    )
    try:
        chain = verifier.verify(leaf, intermediates).chain
    except VerificationError as exc:
        raise CertificateProblem(f"the certificate does not verify against the client CA: {exc}") from None
    return list(chain[:-1])


def chain_pem(chain: list[x509.Certificate]) -> bytes:
    """The chain as PEM, encoded by us."""
    return b"".join(pem(cert) for cert in chain)
