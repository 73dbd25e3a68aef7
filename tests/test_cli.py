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


def test_a_message_queue_without_the_redis_client_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """`serve --message-queue` where the `scale` extra is not installed (the single-box install): a clear message
    saying what to install, and no data directory created. The variable's spelling is tried as well."""
    hidden = tmp_path / "no-redis"
    hidden.mkdir()
    (hidden / "redis.py").write_text("raise ImportError('not installed here')\n")
    data = tmp_path / "data"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hidden), str(ROOT)]))
    for args, extra_env in ((["--message-queue", "redis://127.0.0.1:6379/0"], {}),
                            ([], {"MEETING_MESSAGE_QUEUE": "redis://127.0.0.1:6379/0"})):
        r = subprocess.run([sys.executable, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port", "0",
                            "--data-dir", str(data), *args], capture_output=True, text=True, cwd=ROOT,
                           env=dict(env, **extra_env), timeout=120)
        assert r.returncode == 1, r.stderr
        assert "Hàng đợi tin nhắn cần gói `redis`: pip install 'meeting-server[scale]'" in r.stderr
        assert not data.exists()


def test_doctor_reads_the_meetings_readiness_from_the_database_it_is_given(tmp_path: Path,
                                                                          database_url: str | None) -> None:
    """On PostgreSQL the data directory holds files only: doctor's room lines come from --database-url (on SQLite,
    from the data directory's file), and name the demo meeting's unprinted cards either way."""
    on_db = ("--database-url", database_url) if database_url else ()
    _run("seed-demo", "--data-dir", str(tmp_path), *on_db)
    assert (tmp_path / "meeting.db").exists() is (database_url is None)
    checks = json.loads(_run("doctor", "--data-dir", str(tmp_path), "--port", "1", "--json", *on_db,
                             check=False).stdout)
    room = [c["detail_en"] for c in checks if c["name"] == "meeting"]
    assert "32 join cards have not been printed (or were reissued after the last print): print the cards." in room
