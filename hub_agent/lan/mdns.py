"""The mDNS/DNS-SD advertisement `_hub-agent._tcp.local.` so the phone app finds the hub on the LAN.

Rules of this file: the advertisement follows the listen address. A server bound to one address
announces on that interface only (127.0.0.1 in tests, so nothing leaves the machine); a wildcard
listener announces on every interface with every non-loopback address. The TXT record carries what a
client needs before it trusts the hub: its id, version, the API path and the TLS fingerprint to pin.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass

from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_hub-agent._tcp.local."
#: DNS-SD instance names are at most 63 bytes.
MAX_INSTANCE = 63


@dataclass(frozen=True, slots=True)
class Advertisement:
    """What the hub announces."""

    hub_id: str
    version: str
    port: int
    api: str
    fingerprint: str | None
    tls: bool

    def txt(self) -> dict[str, str]:
        """The TXT record: id, version, api path, tls flag and (with TLS) the certificate fingerprint."""
        record = {
            "id": self.hub_id,
            "version": self.version,
            "api": self.api,
            "tls": "1" if self.tls else "0",
        }
        if self.fingerprint:
            record["fingerprint"] = self.fingerprint
        return record

    def instance_name(self) -> str:
        """`<hub id>._hub-agent._tcp.local.` (hub id cut to the 63-byte limit)."""
        instance = self.hub_id.encode("utf-8")[:MAX_INSTANCE].decode("utf-8", "ignore")
        return f"{instance}.{SERVICE_TYPE}"

    def host_name(self) -> str:
        """A host label derived from the hub id, e.g. `hub-0001.local.`."""
        label = re.sub(r"[^a-z0-9-]+", "-", self.hub_id.lower()).strip("-")[:MAX_INSTANCE] or "hub-agent"
        return f"{label}.local."


def _local_addresses() -> list[str]:
    """Every non-loopback unicast address of this machine (for a wildcard listener)."""
    import ifaddr  # a zeroconf dependency; only needed when listening on every interface

    out = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if not address.is_loopback and not address.is_link_local:
                out.append(str(address))
    return out


class Advertiser:
    """Registers the service on start and unregisters it (a goodbye packet) on close."""

    def __init__(self, advertisement: Advertisement, listen_host: str) -> None:
        self.advertisement = advertisement
        self.listen_host = listen_host
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._registered = False

    async def start(self) -> None:
        """Announce; returns once the name is probed and registered."""
        ad = self.advertisement
        if self.listen_host in ("0.0.0.0", "::", ""):  # noqa: S104  (comparing, not binding)
            addresses = _local_addresses()
            interfaces: InterfaceChoice | list[str] = InterfaceChoice.All
            version = IPVersion.All if self.listen_host == "::" else IPVersion.V4Only
        else:
            host = "127.0.0.1" if self.listen_host == "localhost" else self.listen_host
            addresses = [host]
            interfaces = [host]
            version = IPVersion.V6Only if ":" in host else IPVersion.V4Only
        if version is IPVersion.V4Only:
            addresses = [a for a in addresses if ":" not in a]
        packed = [socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses]
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            ad.instance_name(),
            addresses=packed,
            port=ad.port,
            properties=ad.txt(),
            server=ad.host_name(),
        )
        self._zc = AsyncZeroconf(interfaces=interfaces, ip_version=version)
        try:
            # The first await probes and registers; the returned task sends the announcements.
            announcing = await self._zc.async_register_service(self._info, allow_name_change=True)
            self._registered = True
            await announcing
        except BaseException:
            await self.close()
            raise
        log.info("mDNS: announcing %s on %s port %d", self._info.name, ", ".join(addresses), ad.port)

    async def close(self) -> None:
        """Say goodbye and stop answering."""
        zc, info, registered = self._zc, self._info, self._registered
        self._zc, self._info, self._registered = None, None, False
        if zc is None:
            return
        try:
            if registered and info is not None:
                goodbye = await zc.async_unregister_service(info)
                await goodbye
        finally:
            await zc.async_close()
