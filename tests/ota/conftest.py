"""Fixtures for the OTA tests: a per-test CA, a TUF repository, and the HTTPS server serving it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ota.https_server import RepoServer, UpdateCA
from ota.tufrepo import TufRepo


@pytest.fixture
def test_ca(tmp_path: Path) -> UpdateCA:
    return UpdateCA(tmp_path / "pki")


@pytest.fixture
def repo(tmp_path: Path) -> TufRepo:
    return TufRepo(tmp_path / "repo")


@pytest.fixture
async def server(repo: TufRepo, test_ca: UpdateCA) -> AsyncIterator[RepoServer]:
    srv = RepoServer(repo.folder, test_ca)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.close()
