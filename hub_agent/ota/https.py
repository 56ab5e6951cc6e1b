"""TLS for the update repository: the system trust store plus `[ota] ca`, and ngclient's fetcher over it.

ngclient's own fetchers build their own TLS settings; ours hands urllib3 one verified SSL context, so the
repository's certificate must chain to the system store or to the configured extra CA, and its name
must match. Timeouts bound both the connection and every gap between bytes.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import urllib3
from tuf.api import exceptions
from tuf.ngclient.fetcher import FetcherInterface

log = logging.getLogger(__name__)

#: Seconds to connect, and the longest silence between two chunks, before a download is abandoned.
SOCKET_TIMEOUT = 30.0
CHUNK = 64 * 1024


def ssl_context(ca: Path | None) -> ssl.SSLContext:
    """A client context verifying against the system store and, if given, the extra CA file."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca is not None:
        context.load_verify_locations(cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class VerifiedFetcher(FetcherInterface):
    """ngclient's FetcherInterface over one urllib3 pool that uses our SSL context (no proxies)."""

    def __init__(self, context: ssl.SSLContext, timeout: float = SOCKET_TIMEOUT) -> None:
        self._pool = urllib3.PoolManager(
            ssl_context=context,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            maxsize=2,
        )

    def _fetch(self, url: str) -> Iterator[bytes]:
        """Start a GET; raise DownloadHTTPError for an HTTP error status, SlowRetrievalError on timeout."""
        try:
            response = self._pool.request("GET", url, preload_content=False, redirect=False)
        except urllib3.exceptions.TimeoutError as exc:
            raise exceptions.SlowRetrievalError(f"timed out connecting to {url}") from exc
        if response.status != 200:
            response.release_conn()
            raise exceptions.DownloadHTTPError(f"HTTP {response.status} for {url}", response.status)
        return self._chunks(response)

    def _chunks(self, response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        try:
            yield from response.stream(CHUNK)
        except urllib3.exceptions.TimeoutError as exc:
            raise exceptions.SlowRetrievalError("the repository stopped sending") from exc
        finally:
            response.release_conn()

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.clear()
