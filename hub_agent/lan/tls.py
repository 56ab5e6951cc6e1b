"""The LAN API's self-signed certificate: made at first start, kept in data_dir, pinned by clients.

Rules of this file: the private key is written through `secretfile` (0600 before any byte of it is,
atomic, never through a planted temp file or symlink); the certificate never
changes once made (clients pin its fingerprint), so it is only regenerated if it is missing, unreadable
or expired. `fingerprint()` reads files only, so `hub-agent info` can show it without a running agent.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub_agent import secretfile

log = logging.getLogger(__name__)

CERT_FILE = "lan-cert.pem"
KEY_FILE = "lan-key.pem"
#: Long-lived on purpose: the fingerprint is pinned by paired phones; renewing it would unpair them.
VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Certificate:
    """Where the certificate and key are, and the certificate's pins."""

    cert_path: Path
    key_path: Path
    fingerprint: str
    spki_sha256_b64: str


def _format_fingerprint(digest: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in digest)


def _load(cert_path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return None


def _key_matches(cert: x509.Certificate, key_path: Path) -> bool:
    try:
        key = serialization.load_pem_private_key(secretfile.read_secret(key_path), password=None)
    except (OSError, ValueError, TypeError):
        return False
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return key.public_key().public_bytes(der, public) == cert.public_key().public_bytes(der, public)


def cert_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER bytes as `AB:CD:...` (what `openssl x509 -fingerprint` shows)."""
    return _format_fingerprint(cert.fingerprint(hashes.SHA256()))


def spki_pin(cert: x509.Certificate) -> str:
    """Base64 SHA-256 of the public key info (the form Chromium's SPKI pin list and HPKP use)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def fingerprint(data_dir: Path) -> str | None:
    """The LAN certificate's SHA-256 fingerprint, or None if none has been made yet."""
    cert = _load(Path(data_dir) / CERT_FILE)
    return None if cert is None else cert_fingerprint(cert)


def _generate(data_dir: Path, common_name: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName(f"{common_name}.local"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Key first, then certificate, each replaced atomically: a crash in between leaves a certificate
    # that does not match the key, which the next start detects and remakes (never a half key).
    secretfile.write_secret(data_dir / KEY_FILE, key_pem)
    secretfile.write_atomic(data_dir / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM))
    log.info("made a new LAN TLS certificate for %s, fingerprint %s", common_name, cert_fingerprint(cert))


def ensure_certificate(data_dir: Path, common_name: str) -> Certificate:
    """The certificate in `data_dir`, made first if it is missing, unreadable or expired."""
    data_dir = Path(data_dir)
    cert_path, key_path = data_dir / CERT_FILE, data_dir / KEY_FILE
    cert = _load(cert_path)
    if cert is not None and not _key_matches(cert, key_path):
        # A missing, damaged (e.g. truncated by a crash of an older agent) or foreign key would
        # make every start fail; a new pair costs paired phones a re-pin, a crash loop costs more.
        log.warning("LAN TLS key %s is missing or does not match the certificate; making new ones", key_path)
        cert = None
    if cert is not None and cert.not_valid_after_utc <= datetime.datetime.now(datetime.UTC):
        log.warning("LAN TLS certificate expired on %s; making a new one", cert.not_valid_after_utc)
        cert = None
    if cert is None:
        _generate(data_dir, common_name)
        cert = _load(cert_path)
        assert cert is not None
    # Someone loosened the key's mode: tighten it rather than serve with a readable key.
    secretfile.tighten(key_path)
    return Certificate(cert_path, key_path, cert_fingerprint(cert), spki_pin(cert))


def server_context(cert: Certificate) -> ssl.SSLContext:
    """A TLS 1.2+ server context serving `cert`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert.cert_path, cert.key_path)
    return context


def client_context(cert_path: Path) -> ssl.SSLContext:
    """A verifying client context that trusts exactly this certificate (how tests and tools pin it)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert_path))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
