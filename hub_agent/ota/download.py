"""Download a verified offer into the data dir: resumable (HTTP Range), bounded by its length, hash-checked.

The file grows as `<hash>.part` next to nothing else: a restart or a dropped connection resumes from the
bytes already on disk (re-hashed on resume, never trusted blindly). More bytes than the metadata's length
is an endless-data attack and ends the download; a wrong hash is an arbitrary-package attack and deletes
the file. Only a file whose length and every listed hash matched is renamed to `<hash>.bundle`, and only
such a file is ever handed to a slot backend. Old downloads are removed, so at most one bundle and one
partial file occupy the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path

import aiohttp

from hub_agent.ota import faults
from hub_agent.ota.errors import OtaError, UntrustedUpdate
from hub_agent.ota.metadata import Offer
from hub_core.backoff import Backoff

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
#: Bytes between two fsyncs of the partial file, so a power cut loses at most this much progress.
SYNC_EVERY = 8 * 1024 * 1024
#: Connection attempts per download before giving up (each resumes where the last one stopped).
ATTEMPTS = 6
#: Seconds to connect, and the longest silence between two chunks.
TIMEOUT = 30.0

Progress = Callable[[int, int], None]


def bundle_path(folder: Path, offer: Offer) -> Path:
    """Where a verified download of `offer` lives."""
    return folder / f"{_key(offer)}.bundle"


def _key(offer: Offer) -> str:
    return dict(offer.hashes)["sha256"]


def _hashers(offer: Offer) -> dict[str, hashlib._Hash]:
    return {name: hashlib.new(name) for name, _ in offer.hashes}


def verify_file(path: Path, offer: Offer) -> None:
    """Raise UntrustedUpdate unless `path` has exactly the offer's length and hashes."""
    hashers = _hashers(offer)
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    _check(offer, size, hashers)


def _check(offer: Offer, size: int, hashers: dict[str, hashlib._Hash]) -> None:
    if size != offer.length:
        raise UntrustedUpdate(f"{offer.path}: {size} bytes where the metadata says {offer.length}")
    for name, expected in offer.hashes:
        if not hmac.compare_digest(hashers[name].hexdigest(), expected.lower()):
            raise UntrustedUpdate(f"{offer.path}: {name} does not match the signed metadata")


class Downloader:
    """Fetches offers into `folder` over HTTPS verified with `context`."""

    def __init__(self, folder: Path, context: ssl.SSLContext, backoff: Backoff | None = None) -> None:
        self.folder = folder
        self.context = context
        self.backoff = backoff or Backoff(base=0.5, cap=10.0)

    async def fetch(self, offer: Offer, progress: Progress) -> Path:
        """Download (or resume, or reuse) `offer`; return the verified bundle's path."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = bundle_path(self.folder, offer)
        part = final.with_suffix(".part")
        self._remove_others(keep={final.name, part.name})
        if final.exists():
            try:
                await asyncio.to_thread(verify_file, final, offer)
                progress(offer.length, offer.length)
                return final
            except UntrustedUpdate:
                log.warning("update %s: stored bundle no longer verifies; downloading again", offer.version)
                final.unlink()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT, sock_read=TIMEOUT)
        connector = aiohttp.TCPConnector(ssl=self.context, limit=1)
        self.backoff.reset()
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            while True:
                try:
                    await self._attempt(session, offer, part, progress)
                    break
                except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                    if self.backoff.attempt + 1 >= ATTEMPTS:
                        raise OtaError(f"download of {offer.version} failed: {_describe(exc)}") from None
                    delay = self.backoff.next_delay()
                    log.info("update %s: download interrupted (%s); resuming", offer.version, _describe(exc))
                    await asyncio.sleep(delay)
        os.replace(part, final)
        return final

    async def _attempt(
        self, session: aiohttp.ClientSession, offer: Offer, part: Path, progress: Progress
    ) -> None:
        hashers = _hashers(offer)
        have = await asyncio.to_thread(_prefix, part, offer.length, hashers)
        if have == offer.length:
            await asyncio.to_thread(self._finish, part, offer, have, hashers)
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        async with session.get(offer.url, headers=headers, allow_redirects=False) as response:
            if response.status == 200 and have:
                # The server ignored the Range: start over rather than trust its offset.
                hashers = _hashers(offer)
                have = 0
            elif response.status == 416:
                raise OtaError(
                    f"download of {offer.version}: the server has fewer bytes than the metadata says"
                )
            elif response.status not in (200, 206):
                raise OtaError(f"download of {offer.version}: HTTP {response.status} for {offer.url}")
            elif response.status == 206 and not response.headers.get("Content-Range", "").startswith(
                f"bytes {have}-"
            ):
                raise OtaError(f"download of {offer.version}: the server resumed at the wrong offset")
            fd = os.open(part, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.ftruncate(fd, have)
                os.lseek(fd, have, os.SEEK_SET)
                unsynced = 0
                async for chunk in response.content.iter_chunked(CHUNK):
                    if have + len(chunk) > offer.length:
                        raise UntrustedUpdate(
                            f"{offer.path}: the server sent more than the {offer.length} bytes "
                            "the metadata allows"
                        )
                    _write_all(fd, chunk)
                    for hasher in hashers.values():
                        hasher.update(chunk)
                    have += len(chunk)
                    unsynced += len(chunk)
                    if unsynced >= SYNC_EVERY:
                        os.fsync(fd)
                        unsynced = 0
                    progress(have, offer.length)
                    if have * 2 >= offer.length:
                        faults.point("download:partial")
                os.fsync(fd)
            finally:
                os.close(fd)
        if have < offer.length:
            raise aiohttp.ClientPayloadError(f"connection ended after {have} of {offer.length} bytes")
        await asyncio.to_thread(self._finish, part, offer, have, hashers)

    def _finish(self, part: Path, offer: Offer, size: int, hashers: dict[str, hashlib._Hash]) -> None:
        try:
            _check(offer, size, hashers)
        except UntrustedUpdate:
            part.unlink()
            raise

    def _remove_others(self, keep: set[str]) -> None:
        for path in self.folder.iterdir():
            if path.suffix in (".part", ".bundle") and path.name not in keep:
                path.unlink()


def _prefix(part: Path, length: int, hashers: dict[str, hashlib._Hash]) -> int:
    """Hash the bytes already downloaded; returns how many (a file longer than `length` restarts)."""
    try:
        size = part.stat().st_size
    except FileNotFoundError:
        return 0
    if size > length:
        part.unlink()
        return 0
    done = 0
    with part.open("rb") as file:
        while chunk := file.read(CHUNK):
            done += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    return done


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
