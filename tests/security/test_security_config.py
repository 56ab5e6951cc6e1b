"""`[lan] tls = false` is for loopback tests only (issue 18.5): anything else is refused with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub_agent.cli import main as cli


def check(tmp_path: Path, lan: str) -> tuple[int, Path]:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{tmp_path}"\n\n[lan]\n{lan}')
    return cli(["check-config", "--config", str(config)]), config


@pytest.mark.parametrize(
    ("lan", "line"),
    [
        ('listen = "0.0.0.0:8080"\ntls = false\n', 7),
        ("tls = false\n", 6),  # the default listen address is every interface
        ('tls = false\nlisten = "192.168.1.10:80"\n', 6),
        ('listen = "[::]:80"\nmdns = false\ntls = false\n', 8),
    ],
)
def test_plain_http_on_the_network_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lan: str, line: int
) -> None:
    status, config = check(tmp_path, lan)
    err = capsys.readouterr().err
    assert status == 2
    assert f"{config}:{line}: [lan] tls = false is allowed only with a loopback listen address" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "[::1]:8080", "localhost:8080", "127.8.9.10:1"])
def test_plain_http_on_loopback_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listen: str
) -> None:
    status, _ = check(tmp_path, f'listen = "{listen}"\ntls = false\n')
    assert status == 0, capsys.readouterr().err
