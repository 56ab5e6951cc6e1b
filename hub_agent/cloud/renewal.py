"""The hub's client certificate over time: expiry watch, renewal requests, checked atomic installs.

Rules of this file: no I/O but the certificate and key files; no network (the link sends what this
returns). The key never changes on renewal: the hub id is derived from it. A new certificate replaces
the old file only after it is checked against the hub's key and id and is valid for longer.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from hub_agent.cloud import pki
from hub_agent.cloud.protocol import Certificate, CertRenewal, CertStatus
from hub_core.backoff import Clock

log = logging.getLogger(__name__)


def iso(when: dt.datetime | None) -> str | None:
    """RFC 3339 UTC with a `Z`, or None."""
    return None if when is None else when.isoformat().replace("+00:00", "Z")


class CertificateKeeper:
    """Knows when the client certificate expires, asks for a new one in time, installs it."""

    def __init__(self, cert_path: Path, key_path: Path, hub_id: str, clock: Clock) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
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
        """Check the cloud's certificate and swap it in atomically; the verdict for the cloud."""
        try:
            cert = pki.check_new_certificate(
                message.cert, pki.load_key(self.key_path), self.hub_id, self._now()
            )
            if self.not_after is not None and cert.not_valid_after_utc <= self.not_after:
                raise pki.CertificateProblem("the certificate does not expire later than the current one")
            pki.write_atomically(self.cert_path, message.cert.encode("ascii"))
        except (pki.CertificateProblem, OSError) as exc:
            log.warning("cloud sent a certificate the hub cannot use: %s", exc)
            return CertStatus("rejected", iso(self.not_after), str(exc))
        self.not_after = cert.not_valid_after_utc
        self.installed += 1
        log.info("installed a renewed hub certificate, valid until %s", iso(self.not_after))
        return CertStatus("installed", iso(self.not_after))

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
