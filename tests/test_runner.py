"""Every child process of the package is started by meeting_server/runner.py, runs this checkout's code and dies with
the process that started it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import meeting_server
from meeting_server import runner

PACKAGE = Path(meeting_server.__file__).resolve().parent


def test_a_child_imports_this_checkout_even_from_elsewhere(tmp_path: Path) -> None:
    site = runner.run("site", capture_output=True, check=True, cwd=tmp_path).stdout.decode()  # prints sys.path
    assert f"'{PACKAGE.parent}'," in site
    paths = runner.env()["PYTHONPATH"].split(os.pathsep)
    assert paths[0] == str(PACKAGE.parent) and "" not in paths


def test_background_children_run_idle_class_without_forking_the_server(tmp_path: Path, monkeypatch: Any) -> None:
    """A background child is idle-class before its module runs, and no `preexec_fn` is passed: with one CPython
    `fork()`s the whole server (10-15 ms of a frozen loop at ~150 MB measured) instead of `vfork()`ing it."""
    (tmp_path / "sched_probe.py").write_text(
        "import os\nprint(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0), os.environ.get('X', ''))\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv(runner.IDLE_ENV, "0")  # the parent's own setting is not what decides
    seen: list[dict[str, Any]] = []
    real_popen = runner.subprocess.Popen

    class Recording(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(runner.subprocess, "Popen", Recording)
    idle = runner.run("sched_probe", background=True, capture_output=True, check=True).stdout.split()
    normal = runner.run("sched_probe", capture_output=True, check=True).stdout.split()
    assert int(idle[0]) == os.SCHED_IDLE and int(normal[0]) == os.SCHED_OTHER
    assert int(idle[1]) == 19 and int(normal[1]) == os.getpriority(os.PRIO_PROCESS, 0)
    assert seen and all(kwargs.get("preexec_fn") is None for kwargs in seen)


def test_input_and_output_go_through_files_not_pipes(tmp_path: Path, monkeypatch: Any) -> None:
    """`run` hands `input` to the child as a file on its stdin and collects stdout and stderr in files: under
    eventlet a pipe is fed 4 kB per trip through the hub (a 1.9 MB /verify upload cost the loop ~155 ms of CPU),
    a file is one write and one read. The bytes arrive whole either way, and `check` still raises."""
    import subprocess

    (tmp_path / "echo_probe.py").write_text(
        "import os, stat, sys\n"
        "kinds = [stat.S_ISREG(os.fstat(fd).st_mode) for fd in (0, 1, 2)]\n"
        "data = sys.stdin.buffer.read()\n"
        "sys.stderr.write(repr(kinds))\n"
        "sys.stdout.buffer.write(data[::-1])\n"
        "sys.exit(int(sys.argv[1]))\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    data = os.urandom(3 * 1024 * 1024)
    done = runner.run("echo_probe", "0", input=data, capture_output=True, check=True)
    assert done.returncode == 0 and done.stdout == data[::-1]
    assert done.stderr == b"[True, True, True]"
    try:
        runner.run("echo_probe", "3", input=b"x", capture_output=True, check=True)
    except subprocess.CalledProcessError as err:
        assert err.returncode == 3 and err.output == b"x"
    else:
        raise AssertionError("check=True did not raise")


def test_a_child_past_its_time_is_killed(tmp_path: Path, monkeypatch: Any) -> None:
    """`timeout` raises TimeoutExpired and the child is gone (waited for on a pidfd, not by polling)."""
    import subprocess

    (tmp_path / "sleep_probe.py").write_text("import os, sys, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    seen: list[subprocess.Popen[bytes]] = []
    real_popen = runner.subprocess.Popen

    class Recording(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.append(self)

    monkeypatch.setattr(runner.subprocess, "Popen", Recording)
    try:
        runner.run("sleep_probe", capture_output=True, timeout=1.0)
    except subprocess.TimeoutExpired:
        pass
    else:
        raise AssertionError("no TimeoutExpired")
    assert seen and seen[0].returncode is not None  # killed and reaped
    assert not _running(seen[0].pid)


def test_no_launcher_builds_its_own_path() -> None:
    """PYTHONPATH and `sys.executable, "-m"` are spelled in runner.py only."""
    spelled = [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))
               if p.name != "runner.py" and re.search(r'PYTHONPATH|sys\.executable, "-m"', p.read_text("utf-8"))]
    assert spelled == []


# --- every child dies with the server ----------------------------------------------------------------------------


def _tree(root: int) -> dict[int, str]:
    """The running processes below `root` (pid → command line), from /proc; zombies left out."""
    parent: dict[int, int] = {}
    cmdline: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z":
            parent[int(entry.name)], cmdline[int(entry.name)] = int(fields[1]), line
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child, ppid in parent.items():
            if ppid == pid and child not in found:
                found[child] = cmdline[child]
                frontier.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_server_leaves_no_child_running(server_factory: Any) -> None:
    """SIGKILL the server while an `offload` child builds the join cards of 500 delegates (about 12 s of PyMuPDF on
    this machine): that child, the render workers and every other child of the server are gone within seconds,
    not when their work is done."""
    import signal
    import threading
    import time

    import requests

    srv = server_factory()
    clerk = srv.bearer(srv.links["clerk"])
    rows = [["Họ và tên", "Chức vụ"]] + [[f"Đại biểu số {i}", "Đại biểu HĐND xã"] for i in range(1, 501)]
    r = requests.put(f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}/participants", json={"rows": rows},
                     headers=clerk, timeout=60)
    assert r.status_code == 200, r.text

    def cards() -> None:
        try:
            requests.get(f"{srv.url}/clerk/cards.pdf", headers=clerk, timeout=120)
        except requests.RequestException:
            pass  # the server is killed under it

    threading.Thread(target=cards, daemon=True).start()
    deadline = time.monotonic() + 30
    while not any("meeting_server.offload" in line for line in _tree(srv.proc.pid).values()):
        assert time.monotonic() < deadline, f"no offload child: {_tree(srv.proc.pid)}"
        time.sleep(0.02)
    time.sleep(1.0)  # well into the cards, past the child's start-up
    below = _tree(srv.proc.pid)
    assert any("meeting_server.documents.worker" in line for line in below.values()), below
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    killed_at = time.monotonic()
    while any(_running(pid) for pid in below):
        left = {pid: line for pid, line in below.items() if _running(pid)}
        assert time.monotonic() - killed_at < 3.0, f"left running 3 s after the server was killed: {left}"
        time.sleep(0.05)
    print(f"\n{len(below)} children of the killed server gone within {time.monotonic() - killed_at:.2f} s")


PARENT = """
import subprocess, sys, threading, time
from meeting_server import runner

started = []
starter = threading.Thread(target=lambda: started.append(runner.start(
    "http.server", "0", "--bind", "127.0.0.1", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
starter.start()
starter.join()  # as a request thread of the threaded server: it ends, its child lives on
print(started[0].pid, flush=True)
time.sleep(120)
"""


def test_a_child_started_from_a_passing_thread_outlives_the_thread_not_the_process() -> None:
    """The kernel's PR_SET_PDEATHSIG fires when the starting *thread* ends: a child started from a thread that
    ends (a request thread) must not ask for it, and its watchdog ends it when the process dies."""
    import signal
    import subprocess
    import sys
    import time

    with subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                          env=runner.env()) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            time.sleep(1.5)  # the child's start-up and guard are done; its starting thread ended long ago
            assert _running(child), "the child died with the thread that started it"
            parent.send_signal(signal.SIGKILL)
            parent.wait(10)
            killed_at = time.monotonic()
            while _running(child):
                assert time.monotonic() - killed_at < 3.0, "the child outlived its parent process"
                time.sleep(0.05)
        finally:
            parent.kill()
