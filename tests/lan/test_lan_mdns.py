"""mDNS: the running server's `_hub-agent._tcp` announcement, read back by a zeroconf browser.

Both sides are bound to 127.0.0.1 only (the server follows its listen address), so nothing is
announced on any other interface.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from typing import Any

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from hub_agent.lan.mdns import SERVICE_TYPE


async def test_announcement_is_found_by_a_loopback_browser(start_lan: Any) -> None:
    # A name of its own, so a test run in parallel on the same machine cannot answer for us.
    hub_id = f"hub-test-{secrets.token_hex(4)}"
    async with start_lan(mdns=True, hub_id=hub_id) as lan:
        browser_zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_change(
            zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
        ) -> None:
            if state_change is ServiceStateChange.Added and name.startswith(hub_id) and not found.done():
                found.set_result(name)

        browser = AsyncServiceBrowser(browser_zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
        try:
            name = await asyncio.wait_for(found, 10)
            assert name == f"{hub_id}.{SERVICE_TYPE}"
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            assert await info.async_request(browser_zc.zeroconf, 3000)
            assert info.port == lan.server.bound_port
            assert [socket.inet_ntoa(a) for a in info.addresses] == ["127.0.0.1"]
            txt = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
            assert txt == {
                "id": hub_id,
                "version": "0.1.0",
                "api": "/api/v1",
                "tls": "1",
                "fingerprint": lan.server.fingerprint,
            }
            assert lan.server.fingerprint == lan.runtime.facts["lan_fingerprint"]
        finally:
            await browser.async_cancel()
            await browser_zc.async_close()
        assert lan.server.advertiser is not None
    assert lan.server.advertiser is None  # said goodbye and closed on stop
