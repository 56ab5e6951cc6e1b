"""Secret files (issue 18.3) and who owns them (18.6): each finding of the audit, reproduced.

The old writers used fixed temp names (`.hub.key.tmp`, `hub.key.tmp`) opened without O_EXCL or
O_NOFOLLOW, and the LAN key was rewritten in place. Each test plants what a local user or a crash
could leave, then writes through the real code path.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub_agent import identity, privileges, secretfile
from hub_agent.cloud import pki
from hub_agent.lan import tls
from hub_core.errors import HubError
from hub_core.model import DeviceId


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_a_planted_world_readable_temp_file_does_not_make_the_key_readable(tmp_path: Path) -> None:
    planted = tmp_path / ".hub.key.tmp"  # the name the cloud key writer used
    planted.write_bytes(b"")
    planted.chmod(0o644)
    pki.write_private_key(tmp_path / "hub.key", new_key())
    assert mode(tmp_path / "hub.key") == 0o600
    assert planted.read_bytes() == b""  # never opened


def test_a_symlinked_temp_name_does_not_redirect_the_key(tmp_path: Path) -> None:
    stolen = tmp_path / "elsewhere" / "stolen.pem"
    stolen.parent.mkdir()
    stolen.write_bytes(b"")
    os.symlink(stolen, tmp_path / ".hub.key.tmp")
    key = new_key()
    pki.write_private_key(tmp_path / "hub.key", key)
    assert stolen.read_bytes() == b""
    assert (tmp_path / "hub.key").read_bytes() == pem_of(key)


def test_a_symlink_at_the_key_itself_is_replaced_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"keep me")
    os.symlink(target, tmp_path / "lan-key.pem")
    secretfile.write_secret(tmp_path / "lan-key.pem", b"secret")
    assert target.read_bytes() == b"keep me"
    assert not (tmp_path / "lan-key.pem").is_symlink()
    assert mode(tmp_path / "lan-key.pem") == 0o600


def test_a_stale_temp_file_from_a_crash_never_blocks_key_creation(tmp_path: Path) -> None:
    (tmp_path / "hub.key.tmp").write_bytes(b"half a key")  # the old identity writer's temp name
    stale = tmp_path / f"{secretfile.TEMP_PREFIX}hub.key.abc123"
    stale.write_bytes(b"half a key")
    old = dt.datetime.now().timestamp() - secretfile.STALE_AFTER - 1
    os.utime(stale, (old, old))
    key = identity.load_or_create_key(tmp_path / "hub.key")
    assert mode(tmp_path / "hub.key") == 0o600
    assert identity.load_or_create_key(tmp_path / "hub.key").private_numbers() == key.private_numbers()
    assert not stale.exists()  # our own stale temp files are cleaned up


def test_an_existing_loose_key_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "hub.key"
    path.write_bytes(pem_of(new_key()))
    path.chmod(0o644)
    identity.load_or_create_key(path)
    assert mode(path) == 0o600


def test_two_processes_creating_the_key_at_once_keep_one_key(tmp_path: Path) -> None:
    path = tmp_path / "hub.key"
    results: list[bool] = []
    start = threading.Barrier(8)

    def create(data: bytes) -> None:
        start.wait()
        results.append(secretfile.create_secret(path, data))

    threads = [threading.Thread(target=create, args=(bytes([n]) * 100,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    data = path.read_bytes()
    assert len(set(data)) == 1 and len(data) == 100
    assert [p.name for p in tmp_path.iterdir()] == ["hub.key"]  # no temp files left


def test_a_truncated_lan_key_is_replaced_instead_of_crash_looping(tmp_path: Path) -> None:
    first = tls.ensure_certificate(tmp_path, "hub-x")
    key = tmp_path / tls.KEY_FILE
    key.write_bytes(key.read_bytes()[:40])  # what a crash during the old in-place rewrite left
    second = tls.ensure_certificate(tmp_path, "hub-x")
    tls.server_context(second)  # loads: the pair matches again
    assert second.fingerprint != first.fingerprint
    assert mode(key) == 0o600


def test_a_loosened_lan_key_is_tightened(tmp_path: Path) -> None:
    cert = tls.ensure_certificate(tmp_path, "hub-x")
    cert.key_path.chmod(0o640)
    assert tls.ensure_certificate(tmp_path, "hub-x").fingerprint == cert.fingerprint
    assert mode(cert.key_path) == 0o600


def test_tighten_never_adds_permissions_or_follows_links(tmp_path: Path) -> None:
    private = tmp_path / "a"
    private.write_bytes(b"")
    private.chmod(0o400)
    assert not secretfile.tighten(private)
    assert mode(private) == 0o400
    target = tmp_path / "t"
    target.write_bytes(b"")
    target.chmod(0o644)
    os.symlink(target, tmp_path / "link")
    assert not secretfile.tighten(tmp_path / "link")
    assert mode(target) == 0o644


def test_read_secret_refuses_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"x")
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(OSError):
        secretfile.read_secret(tmp_path / "link")


# --- run as root (18.6) --------------------------------------------------------------------------

NOBODY = 65534


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to root)."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root can change users (CI runs as root)")


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub_agent", *argv], capture_output=True, text=True, check=False, timeout=60
    )


@needs_root
def test_token_create_as_root_makes_files_the_agent_can_open(shared_dir: Path) -> None:
    data = shared_dir / "data"
    data.mkdir(mode=0o700)
    os.chown(data, NOBODY, NOBODY)  # the agent's user owns its folder (StateDirectory=)
    config = shared_dir / "hub.toml"
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{data}"\n[lan]\nlisten = "127.0.0.1:1"\n')
    result = cli("token", "create", "--config", str(config))
    assert result.returncode == 0, result.stderr
    made = sorted(data.iterdir())
    assert made, "the store was not created"
    for path in made:
        info = os.lstat(path)
        assert (info.st_uid, stat.S_IMODE(info.st_mode) & 0o077) == (NOBODY, 0), path


@needs_root
def test_provision_as_root_makes_a_key_the_agent_owns(shared_dir: Path) -> None:
    data = shared_dir / "data"
    data.mkdir(mode=0o700)
    os.chown(data, NOBODY, NOBODY)
    config = shared_dir / "hub.toml"
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{data}"\n')
    result = cli("provision", "--config", str(config))
    assert result.returncode == 0, result.stderr
    key = data / identity.KEY_FILE
    assert (os.stat(key).st_uid, mode(key)) == (NOBODY, 0o600)
    assert "BEGIN CERTIFICATE REQUEST" in result.stdout


@needs_root
def test_as_root_on_a_fresh_hub_the_command_refuses_with_what_to_run(tmp_path: Path) -> None:
    missing = tmp_path / "not-yet"
    umask = os.umask(0o022)
    try:
        with pytest.raises(HubError, match=r"sudo -u nobody hub-agent token create --config /etc/h\.toml"):
            privileges.become_data_owner(
                missing, ["token", "create", "--config", "/etc/h.toml"], agent_user="nobody"
            )
        assert not missing.exists()
        # No packaged agent user on this machine: nothing to protect, the command goes on as root.
        privileges.become_data_owner(missing, [], agent_user="no-such-user-here")
        assert os.geteuid() == 0
    finally:
        os.umask(umask)


# --- the radios' key files go through the same helper -------------------------------------------


def test_the_ble_bindkey_file_is_not_redirected_by_a_planted_symlink(tmp_path: Path) -> None:
    from radios.ble.keys import KeyStore

    store = KeyStore(tmp_path)
    stolen = tmp_path / "stolen"
    stolen.write_bytes(b"")
    os.symlink(stolen, store.path.with_suffix(".tmp"))  # the name the old writer opened with O_TRUNC
    store.put(DeviceId("ble-a4c138000001"), bytes(range(16)))
    assert stolen.read_bytes() == b""
    assert mode(store.path) == 0o600 and not store.path.is_symlink()
    again = KeyStore(tmp_path)
    again.load()
    assert again.get(DeviceId("ble-a4c138000001")) == bytes(range(16))


def test_the_zigbee_backup_with_the_network_key_is_written_as_a_secret(tmp_path: Path) -> None:
    from zigpy.backups import NetworkBackup

    from radios.zigbee.backup import write_backup

    target = tmp_path / "zigbee-backup.json"
    planted = tmp_path / "zigbee-backup.json.tmp"
    planted.write_bytes(b"")
    planted.chmod(0o644)
    write_backup(NetworkBackup(), target)
    assert mode(target) == 0o600
    assert planted.read_bytes() == b""
    assert json.loads(target.read_text())["metadata"]["format"] == "zigpy/open-coordinator-backup"


def test_a_key_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_bytes(b"")
    with pytest.raises(HubError, match=r"cannot write the hub key .*hub\.key"):
        identity.load_or_create_key(blocked / "hub.key")
