"""The hub's client certificate over time: expiry watch, renewal requests, checked atomic installs.

Rules of this file: no I/O but the certificate and key files; no network (the link sends what this
returns). The key never changes on renewal: the hub id is derived from it. A new certificate replaces
the old file only after its chain verified against the client CA (chain.py), it is valid for longer,
and a TLS context loaded it with the hub's key. The old certificate stays beside it (`<cert>.prev`)
until a connection with the new one succeeded (`confirm`); if the cloud refuses the new one, the
link calls `roll_back` and the hub is back on the certificate that worked. The `.prev` file is the
state, so this holds across restarts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import ssl
import tempfile
from pathlib import Path

from hub_agent.cloud import chain, pki
from hub_agent.cloud.protocol import Certificate, CertRenewal, CertStatus
from hub_core.backoff import Clock

log = logging.getLogger(__name__)


def iso(when: dt.datetime | None) -> str | None:
    """RFC 3339 UTC with a `Z`, or None."""
    return None if when is None else when.isoformat().replace("+00:00", "Z")


class CertificateKeeper:
    """Knows when the client certificate expires, asks for a new one in time, installs it."""

    def __init__(
        self, cert_path: Path, key_path: Path, hub_id: str, clock: Clock, client_ca: Path | None = None
    ) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self.client_ca = client_ca
        self.previous_path = cert_path.with_name(cert_path.name + ".prev")
        self.rolled_back = 0
        self.hub_id = hub_id
        self.clock = clock
        self.not_after: dt.datetime | None = None
        self.installed = 0
        self._warned_on: dt.date | None = None
        self._requested_on: int | None = None

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)

    def refresh(self) -> dt.datetime | None:
        """Re-read the certificate's expiry (None if there is no readable certificate)."""
        try:
            self.not_after = pki.load_certificate(self.cert_path).not_valid_after_utc
        except pki.CertificateProblem:
            self.not_after = None
        return self.not_after

    def renewal_request(self, connection: int) -> CertRenewal | None:
        """A cert_renewal to send on `connection` if the certificate is within 30 days of expiry.

        At most one request per connection; the warning is logged at most once a day.
        """
        if self.refresh() is None:
            return None
        assert self.not_after is not None
        now = self._now()
        left = self.not_after - now
        if left > pki.RENEW_BEFORE:
            return None
        if self._warned_on != now.date():
            self._warned_on = now.date()
            log.warning(
                "hub certificate expires %s (in %d days); asking the cloud to renew it",
                iso(self.not_after),
                max(left.days, 0),
            )
        if self._requested_on == connection:
            return None
        self._requested_on = connection
        return CertRenewal(pki.make_csr(pki.load_key(self.key_path), self.hub_id), iso(self.not_after))

    def install(self, message: Certificate) -> CertStatus:
        """Verify the cloud's certificate and swap it in atomically; the verdict for the cloud."""
        try:
            if self.client_ca is None:
                raise pki.CertificateProblem("no client CA is configured to verify renewed certificates")
            verified = chain.verified_chain(
                message.cert, self.client_ca, pki.load_key(self.key_path), self.hub_id, self._now()
            )
            cert = verified[0]
            if self.not_after is not None and cert.not_valid_after_utc <= self.not_after:
                raise pki.CertificateProblem("the certificate does not expire later than the current one")
            self._swap(chain.chain_pem(verified))
        except (pki.CertificateProblem, OSError, ssl.SSLError) as exc:
            log.warning("cloud sent a certificate the hub cannot use: %s", exc)
            return CertStatus("rejected", iso(self.not_after), str(exc))
        self.not_after = cert.not_valid_after_utc
        self.installed += 1
        log.info("installed a renewed hub certificate, valid until %s", iso(self.not_after))
        return CertStatus("installed", iso(self.not_after))

    def _swap(self, data: bytes) -> None:
        """Prove `data` loads with the key, keep the current file as .prev, then rename into place."""
        folder = self.cert_path.parent
        fd, name = tempfile.mkstemp(prefix=f".{self.cert_path.name}.", suffix=".new", dir=folder)
        candidate = Path(name)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(candidate, 0o644)
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(candidate, self.key_path)
            if self.cert_path.exists() and not self.previous_path.exists():
                pki.write_atomically(self.previous_path, self.cert_path.read_bytes())
            os.replace(candidate, self.cert_path)
        finally:
            candidate.unlink(missing_ok=True)
        _fsync_folder(folder)

    @property
    def on_probation(self) -> bool:
        """True while a renewed certificate has not yet carried a successful connection."""
        return self.previous_path.exists()

    def confirm(self) -> None:
        """A connection with the current certificate succeeded: the previous one is no longer needed."""
        if self.previous_path.exists():
            self.previous_path.unlink()
            log.info("the renewed hub certificate works; dropped the previous one")

    def roll_back(self) -> bool:
        """The cloud refused the renewed certificate: put the previous one back. True if it did."""
        if not self.previous_path.exists():
            return False
        os.replace(self.previous_path, self.cert_path)
        _fsync_folder(self.cert_path.parent)
        self.rolled_back += 1
        self.refresh()
        log.warning("the cloud refused the renewed hub certificate; using the previous one again")
        return True

    def explain_rejection(self, why: str) -> str:
        """`why`, plus what the hub knows about its certificate's validity (the cloud will not say)."""
        try:
            cert = pki.load_certificate(self.cert_path)
        except pki.CertificateProblem:
            return why
        now = self._now()
        if cert.not_valid_after_utc <= now:
            return f"{why} (it expired at {iso(cert.not_valid_after_utc)})"
        if cert.not_valid_before_utc > now:
            return f"{why} (it is not valid before {iso(cert.not_valid_before_utc)})"
        return why


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
