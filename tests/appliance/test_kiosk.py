"""The projector launcher: waits for /healthz, opens the kiosk URL with the kiosk flags, relaunches."""

import os
import subprocess
import time
from pathlib import Path

from tests.appliance.conftest import HealthzServer, free_port

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "kiosk" / "meeting-kiosk"


def fake_browser(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for chromium that records its arguments, one run per line, and exits."""
    log = tmp_path / "browser.log"
    browser = tmp_path / "fake-chromium"
    browser.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    browser.chmod(0o755)
    return browser, log


def run_kiosk(tmp_path: Path, env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "KIOSK_RELAUNCH_DELAY": "0"}
    return subprocess.run([str(LAUNCHER)], env=base | env, capture_output=True, text=True, timeout=timeout)


def test_opens_url_from_config_file_with_kiosk_flags_and_relaunches(
    tmp_path: Path, healthz_server: int
) -> None:
    browser, log = fake_browser(tmp_path)
    url = f"http://127.0.0.1:{healthz_server}/kiosk?token=k3y"
    config = tmp_path / "home" / ".config" / "meeting-kiosk"
    config.mkdir(parents=True)
    (config / "url").write_text(f"# from meeting-server links --json\n\n{url}\n")
    result = run_kiosk(tmp_path, {"KIOSK_BROWSER": str(browser), "KIOSK_MAX_RUNS": "2"})
    assert result.returncode == 0, result.stderr
    runs = log.read_text().splitlines()
    assert len(runs) == 2, "Chromium must be started again after it exits"
    args = runs[0].split()
    assert args[-1] == url
    profile = tmp_path / "home" / ".local" / "share" / "meeting-kiosk" / "chromium"
    for flag in (
        "--kiosk",
        "--noerrdialogs",
        "--disable-infobars",
        "--disable-session-crashed-bubble",
        "--check-for-update-interval=31536000",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
    ):
        assert flag in args
    assert profile.is_dir()


def test_waits_for_the_server_before_launching(tmp_path: Path, healthz_later: HealthzServer) -> None:
    browser, log = fake_browser(tmp_path)
    env = {
        "KIOSK_URL": f"http://127.0.0.1:{healthz_later.port}/kiosk",
        "KIOSK_BROWSER": str(browser),
        "KIOSK_MAX_RUNS": "1",
    }
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")}
    with subprocess.Popen([str(LAUNCHER)], env=base | env, stderr=subprocess.DEVNULL) as proc:
        try:
            time.sleep(1.5)
            assert not log.exists(), "the browser must not open before /healthz answers"
            healthz_later.start()
            assert proc.wait(timeout=15) == 0
        finally:
            proc.kill()
    assert log.read_text().split()[-1] == env["KIOSK_URL"]


def test_gives_up_after_health_timeout_when_asked(tmp_path: Path) -> None:
    browser, log = fake_browser(tmp_path)
    result = run_kiosk(
        tmp_path,
        {
            "KIOSK_URL": f"http://127.0.0.1:{free_port()}/",
            "KIOSK_BROWSER": str(browser),
            "KIOSK_HEALTH_TIMEOUT": "1",
        },
    )
    assert result.returncode == 1
    assert "did not answer" in result.stderr and not log.exists()


def test_clears_crashed_flag_so_no_restore_bubble(tmp_path: Path, healthz_server: int) -> None:
    browser, _ = fake_browser(tmp_path)
    prefs = tmp_path / "home" / ".local" / "share" / "meeting-kiosk" / "chromium" / "Default" / "Preferences"
    prefs.parent.mkdir(parents=True)
    prefs.write_text('{"profile":{"exit_type":"Crashed","exited_cleanly":false}}')
    run_kiosk(
        tmp_path,
        {
            "KIOSK_URL": f"http://127.0.0.1:{healthz_server}/",
            "KIOSK_BROWSER": str(browser),
            "KIOSK_MAX_RUNS": "1",
        },
    )
    assert prefs.read_text() == '{"profile":{"exit_type":"Normal","exited_cleanly":true}}'


def test_desktop_entry_and_user_unit_start_the_installed_launcher() -> None:
    desktop = (ROOT / "kiosk" / "meeting-kiosk.desktop").read_text()
    assert "Exec=/usr/local/bin/meeting-kiosk" in desktop and "Type=Application" in desktop
    unit = (ROOT / "kiosk" / "meeting-kiosk.service").read_text()
    assert "ExecStart=/usr/local/bin/meeting-kiosk" in unit
