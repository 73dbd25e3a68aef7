"""The command line of the automation contract: links --json, --help everywhere, migrate, doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "meeting_server", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=check, timeout=120)


def test_links_json_has_the_contract_shape(tmp_path: Path) -> None:
    _run("seed-demo", "--data-dir", str(tmp_path))
    out = json.loads(_run("links", "--data-dir", str(tmp_path), "--json").stdout)
    assert set(out) >= {"clerk", "chair", "secretary", "delegates", "kiosk", "guest"}
    assert len(out["delegates"]) == 30 and all({"name", "url"} <= set(d) for d in out["delegates"])
    assert out["kiosk"].startswith("http://") and "/j/" in out["kiosk"]
    token = out["delegates"][0]["url"].rsplit("/j/", 1)[1]
    assert len(token) >= 22  # ≥ 128 bits in URL-safe base64


def test_links_without_a_meeting_says_so(tmp_path: Path) -> None:
    r = _run("links", "--data-dir", str(tmp_path), check=False)
    assert r.returncode != 0 and "Chưa có kỳ họp nào" in r.stderr


@pytest.mark.parametrize("command", ["serve", "links", "doctor", "migrate", "seed-demo"])
def test_help_on_every_command(command: str) -> None:
    assert "Usage:" in _run(command, "--help").stdout


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MEETING_SERVER_DATA=str(tmp_path / "env-data"))
    subprocess.run([sys.executable, "-m", "meeting_server", "migrate"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    assert (tmp_path / "env-data" / "meeting.db").is_file()
