"""The Z-Wave keys file: created 0600 with four distinct random keys, read back, bad files named clearly."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from hub_core.errors import ConfigError
from radios.zwave.security.classes import ORDER
from radios.zwave.security.keystore import load_or_create


def test_a_missing_file_is_created_0600_and_read_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sub" / "zwave-keys.json"
    old = os.umask(0o022)
    try:
        with caplog.at_level(logging.DEBUG):
            keys = load_or_create(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert set(doc) == {"S2_AccessControl", "S2_Authenticated", "S2_Unauthenticated", "S0_Legacy"}
    assert all(len(v) == 32 for v in doc.values())
    assert len({keys[c] for c in ORDER}) == 4
    assert load_or_create(path).keys == keys.keys
    for value in doc.values():  # never logged, never in repr
        assert value.lower() not in caplog.text.lower()
        assert value.lower() not in repr(keys).lower()
    assert [p.name for p in path.parent.iterdir()] == ["zwave-keys.json"]  # no temp file left


def test_a_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_or_create(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"S2_AccessControl": "zz"}', "S2_AccessControl: expected 32 hex"),
    ],
)
def test_bad_files_name_the_problem_not_the_value(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(body)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=message) as info:
        load_or_create(path)
    assert "zz" not in str(info.value)


def test_non_hex_and_unknown_entries(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    doc = {name: "00" * 16 for name in ("S2_AccessControl", "S2_Authenticated", "S2_Unauthenticated")}
    doc["S0_Legacy"] = "g" * 32
    doc["S3"] = "00" * 16
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    with pytest.raises(ConfigError) as info:
        load_or_create(path)
    text = str(info.value)
    assert "S0_Legacy: not hexadecimal" in text and "unknown key 'S3'" in text
    assert "g" * 32 not in text


def test_config_defaults_the_keys_file_into_the_data_dir(tmp_path: Path) -> None:
    from hub_agent.config import parse_config

    doc = {"hub": {"data_dir": str(tmp_path)}, "zwave": {"port": "sim"}}
    config = parse_config(doc, "hub.toml", {}, tmp_path)
    assert config.zwave is not None and config.zwave.security_keys == tmp_path / "zwave-keys.json"
    doc["zwave"]["security_keys"] = "keys/zw.json"
    config = parse_config(doc, "hub.toml", {}, tmp_path)
    assert config.zwave is not None and config.zwave.security_keys == tmp_path / "keys" / "zw.json"
    doc["zwave"]["security_keys"] = ""
    with pytest.raises(ConfigError, match="security_keys"):
        parse_config(doc, "hub.toml", {}, tmp_path)


def test_the_provisioning_list_persists_and_matches_a_key_with_its_pin_zeroed(tmp_path: Path) -> None:
    from radios.zwave.security.classes import dsk_string
    from radios.zwave.security.provisioning import Provisioned, ProvisioningList

    public = bytes(range(40, 72))
    plist = ProvisioningList(tmp_path / "p.json")
    plist.add(Provisioned(dsk_string(public[:16]), "door"))
    plist.save()
    again = ProvisioningList(tmp_path / "p.json")
    hit = again.match(bytes(2) + public[2:])
    assert hit is not None and hit.name == "door" and hit.key_bytes() == public[:16]
    assert again.match(bytes(32)) is None
    assert stat.S_IMODE((tmp_path / "p.json").stat().st_mode) == 0o600
