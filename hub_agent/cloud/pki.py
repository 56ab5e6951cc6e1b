"""Keys, CSRs, certificates and TLS contexts for the cloud link (and the dev relay's CA).

Rules of this file: TLS is 1.2 or newer and always verified (chain and hostname on the client, the
client certificate on the server); a new certificate is checked against the hub's own key before it
replaces the old one, and the replacement is atomic (temp file, fsync, rename, fsync of the folder).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub_agent import secretfile

#: Renewal starts (and a warning is logged) when the certificate has less than this left.
RENEW_BEFORE = dt.timedelta(days=30)


class CertificateProblem(ValueError):
    """A certificate cannot be used; the message says why."""


def client_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.2+ client context that verifies the server against `ca` and presents the hub cert."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(cert), str(key))
    return context


def server_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context that requires a client certificate issued by `client_ca`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(client_ca))
    context.load_cert_chain(str(cert), str(key))
    return context


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate in a PEM file; CertificateProblem if unreadable."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CertificateProblem(f"cannot read certificate {path}: {exc}") from None


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The hub's EC private key from a PEM file; CertificateProblem if unreadable or not EC."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CertificateProblem(f"cannot read key {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateProblem(f"{path} is not an EC private key")
    return key


def make_csr(key: ec.EllipticCurvePrivateKey, hub_id: str) -> str:
    """A PEM certificate signing request for `key` with CN = hub id."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hub_id)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def common_name(cert: x509.Certificate) -> str | None:
    """The subject CN, or None."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def check_new_certificate(
    pem: str, key: ec.EllipticCurvePrivateKey, hub_id: str, now: dt.datetime
) -> x509.Certificate:
    """Parse a renewed client certificate and check it fits this hub; CertificateProblem if not."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise CertificateProblem(f"not a PEM certificate: {exc}") from None
    ours = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if ours != theirs:
        raise CertificateProblem("the certificate is for a different key than the hub's")
    if common_name(cert) != hub_id:
        raise CertificateProblem(f"the certificate's CN is {common_name(cert)!r}, not {hub_id!r}")
    if cert.not_valid_before_utc > now:
        raise CertificateProblem(
            f"the certificate is not valid before {cert.not_valid_before_utc.isoformat()}"
        )
    if cert.not_valid_after_utc <= now:
        raise CertificateProblem(f"the certificate expired at {cert.not_valid_after_utc.isoformat()}")
    return cert


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file, never half."""
    secretfile.write_atomic(path, data, mode)  # random temp name, O_EXCL, fchmod, fsyncs


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write `key` as PKCS#8 PEM, mode 0600 from the first byte."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    secretfile.write_secret(path, pem)


def pem(cert: x509.Certificate) -> bytes:
    """A certificate as PEM bytes."""
    return cert.public_bytes(serialization.Encoding.PEM)


# --- issuing (for the dev relay and tests; a production CA lives in the cloud) -----------------


def make_ca(
    name: str, now: dt.datetime, days: int = 3650
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed EC P-256 CA certificate and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    common_name: str,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    server_names: tuple[str, ...] = (),
    client: bool = False,
) -> x509.Certificate:
    """A leaf certificate signed by the CA: a server cert (with SANs) or a client cert."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server_names:
        sans: list[x509.GeneralName] = []
        for name in server_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def sign_csr(
    csr_pem: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    days: int = 90,
    expected_cn: str | None = None,
) -> x509.Certificate:
    """Issue a client certificate for a CSR after checking its signature (and CN if given)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise CertificateProblem(f"not a PEM CSR: {exc}") from None
    if not csr.is_signature_valid:
        raise CertificateProblem("the CSR's signature is invalid")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(names[0].value) if names else ""
    if expected_cn is not None and cn != expected_cn:
        raise CertificateProblem(f"the CSR is for {cn!r}, not {expected_cn!r}")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CertificateProblem("the CSR's key is not an EC key")
    return issue(
        ca_cert,
        ca_key,
        public_key,
        cn,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=days),
        client=True,
    )
