"""Pure parts of OTA: versions, the control protocol, the state files, the dir bootloader, [ota] config."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_agent.config import load_config
from hub_agent.lan.update_routes import BodyError, parse_install_body
from hub_agent.ota.control import MAX_LINE, parse_request
from hub_agent.ota.dirslots import TRIAL_ATTEMPTS, DirSlots
from hub_agent.ota.errors import BackendError, OtaError, UntrustedUpdate
from hub_agent.ota.state import OtaState, Pending, StateFile, ota_dir
from hub_agent.ota.trustroot import check_root
from hub_agent.ota.versions import parse_version
from hub_core.errors import ConfigError
from ota.tufrepo import TufRepo


def test_version_order_follows_semver() -> None:
    ordered = ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]  # fmt: skip
    parsed = [parse_version(v) for v in ordered]
    assert parsed == sorted(parsed)
    assert len(set(parsed)) == len(parsed)
    assert parse_version("1.2.3+build.5") == parse_version("1.2.3")
    assert str(parse_version("1.2.3-rc.1+b")) == "1.2.3-rc.1"


@pytest.mark.parametrize("bad", ["", "1", "1.2", "01.2.3", "1.2.3-", "v1.2.3", "1.2.3.4", "1" * 70, None, 5])
def test_bad_versions_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_version(bad)


@given(
    st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999)),
    st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999)),
)
def test_release_order_is_numeric(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    va, vb = parse_version(".".join(map(str, a))), parse_version(".".join(map(str, b)))
    assert (va < vb) == (a < b) and (va == vb) == (a == b)


@given(st.text(max_size=80))
def test_version_parser_fuzz(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_version(text)


@given(
    st.binary(max_size=300)
    | st.builds(
        lambda d: json.dumps(d).encode(),
        st.dictionaries(
            st.sampled_from(["op", "version", "repository", "root", "x"]),
            st.one_of(
                st.none(),
                st.integers(),
                st.text(max_size=10),
                st.sampled_from(["status", "check", "install", "mark_good", "trust"]),
            ),
        ),
    )
)
def test_control_request_fuzz_only_documented_errors(line: bytes) -> None:
    try:
        request = parse_request(line)
    except OtaError:
        return
    assert request["op"] in ("status", "check", "install", "mark_good", "trust")


def test_control_request_too_long() -> None:
    with pytest.raises(OtaError, match="longer than"):
        parse_request(b" " * (MAX_LINE + 1))


@given(
    st.binary(max_size=200)
    | st.builds(
        lambda d: json.dumps(d).encode(),
        st.dictionaries(
            st.sampled_from(["highest", "pending", "last_error", "failed"]),
            st.one_of(
                st.none(),
                st.integers(),
                st.text(max_size=8),
                st.just("1.2.3"),
                st.dictionaries(
                    st.sampled_from(["version", "slot", "phase"]),
                    st.one_of(st.text(max_size=8), st.just("installed"), st.just("1.0.0")),
                ),
            ),
        ),
    )
)
def test_state_file_fuzz_only_documented_errors(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    folder = tmp_path_factory.mktemp("state")
    states = StateFile(folder)
    states.path.parent.mkdir(parents=True)
    states.path.write_bytes(raw)
    with contextlib.suppress(OtaError):
        states.load()


def test_state_round_trip(tmp_path: Path) -> None:
    states = StateFile(tmp_path)
    assert states.load() == OtaState()
    state = OtaState(parse_version("1.2.0"), Pending(parse_version("1.3.0"), "B", "installed"), "boom", None)
    states.save(state)
    assert states.load() == state
    assert (ota_dir(tmp_path) / "state.json").stat().st_mode & 0o777 == 0o600
    assert not list(ota_dir(tmp_path).glob(".*.tmp"))


def test_dir_bootloader_counts_trial_boots_then_falls_back(tmp_path: Path) -> None:
    exits: list[int] = []
    slots = DirSlots(tmp_path, exits.append)
    assert slots.boot() == "A"
    bundle = tmp_path / "bundle"
    bundle.write_bytes(b"image")
    target = asyncio.run(
        slots.install(bundle, parse_version("1.2.0"), hashlib.sha256(b"image").hexdigest(), lambda p: None)
    )
    assert target == "B"
    for _ in range(TRIAL_ATTEMPTS):
        assert slots.boot() == "B"  # each boot of the trial slot uses an attempt
    assert slots.boot() == "A"  # out of attempts: marked bad, back to the good slot
    status = asyncio.run(slots.status())
    assert (status.booted, status.primary) == ("A", "A")
    assert status.slot("B").state == "bad"  # type: ignore[union-attr]


def test_dir_install_refuses_a_slot_that_does_not_verify(tmp_path: Path) -> None:
    slots = DirSlots(tmp_path / "slots", lambda code: None)
    slots.boot()
    bundle = tmp_path / "bundle"
    bundle.write_bytes(b"image")
    with pytest.raises(BackendError, match="does not verify"):
        asyncio.run(slots.install(bundle, parse_version("1.2.0"), "0" * 64, lambda p: None))
    assert slots.boot() == "A"  # the half-done slot is never booted


def test_dir_boot_file_corruption_is_named(tmp_path: Path) -> None:
    (tmp_path / "boot.json").write_text('{"primary": "C", "slots": {}}')
    with pytest.raises(BackendError, match="corrupt"):
        DirSlots(tmp_path, lambda code: None).boot()


def test_owner_root_checks(tmp_path: Path) -> None:
    repo = TufRepo(tmp_path / "repo")
    assert check_root(repo.root_bytes()).version == 1
    with pytest.raises(UntrustedUpdate, match="not TUF root metadata"):
        check_root(b"{}")
    with pytest.raises(UntrustedUpdate, match="not root metadata"):
        check_root(repo.read("timestamp.json"))
    tampered = json.loads(repo.root_bytes())
    tampered["signed"]["expires"] = "2099-01-01T00:00:00Z"
    with pytest.raises(UntrustedUpdate, match="not signed"):
        check_root(json.dumps(tampered).encode())
    with pytest.raises(UntrustedUpdate, match="larger than"):
        check_root(b" " * 300_000)


def test_ota_config_section(tmp_path: Path) -> None:
    root = tmp_path / "root.json"
    root.write_text("{}")
    path = tmp_path / "hub.toml"
    path.write_text(
        f'[ota]\nrepository = "https://updates.example.com/hub"\nroot = "{root}"\nbackend = "dir"\n'
        'auto_install = true\nreboot_command = ["/sbin/reboot", "-f"]\n'
    )
    ota = load_config(path).ota
    assert ota is not None
    assert ota.repository == "https://updates.example.com/hub/"
    assert ota.reboot_command == ("/sbin/reboot", "-f") and ota.auto_install and ota.health_window == 300
    path.write_text('[ota]\nrepository = "http://x/"\nroot = "/nope"\nbackend = "usb"\nhealth_window = 0\n'
                    'slots_dir = "s"\nreboot_command = []\nsurprise = 1\n')  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = "\n".join(str(p) for p in caught.value.problems)
    expected_problems = (
        "hub.toml:2: [ota] repository must be an https:// URL",
        "hub.toml:3: [ota] root cannot read",
        "hub.toml:4: [ota] backend must be one of rauc, dir",
        "hub.toml:5: [ota] health_window must be between",
        "hub.toml:7: [ota] reboot_command must be a non-empty array",
        "hub.toml:8: unknown key 'surprise'",
        'slots_dir is for backend = "dir" only',
    )
    for expected in expected_problems:
        assert expected in text, text


@given(
    st.binary(max_size=2000)
    | st.builds(
        lambda d: json.dumps(d).encode(),
        st.one_of(
            st.dictionaries(
                st.sampled_from(["version", "v", ""]), st.one_of(st.none(), st.integers(), st.text())
            ),
            st.lists(st.integers(), max_size=3),
            st.text(max_size=10),
        ),
    )
)
def test_install_body_fuzz_only_documented_errors(raw: bytes) -> None:
    try:
        version = parse_install_body(raw)
    except BodyError as exc:
        assert exc.status in (400, 413, 422) and str(exc)
        return
    assert version is None or isinstance(version, str)


def test_install_body_cases() -> None:
    assert parse_install_body(b"") is None
    assert parse_install_body(b"{}") is None
    assert parse_install_body(b'{"version": "1.2.0"}') == "1.2.0"
    with pytest.raises(BodyError, match="at most"):
        parse_install_body(b" " * 2000)
