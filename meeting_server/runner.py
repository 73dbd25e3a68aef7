"""Starting a Python child process of this package: the one place that knows how.

The child runs `python -m <module>` with the parent's interpreter and a PYTHONPATH that finds this checkout first,
so it runs the same code as its parent whether the package is installed or run from a source tree. Standard
library only: the render pool, the minutes worker, the audit-log check and `offload` all start their children here.

Every child dies with the process that started it (a SIGKILLed server leaves no worker behind, busy for minutes):
it is started as `python -m meeting_server.runner <module> …`, which arranges that, then runs the module as
`python -m` would. How, since the kernel's own way (prctl PR_SET_PDEATHSIG) fires when the *thread* that started
the child ends, not the process:
- the child asks the kernel for SIGKILL at its parent's death only when that thread lives as long as the child
  needs: the process's main OS thread (every green thread under eventlet runs on it) or a thread that waits for the
  child to end (`run`); never for a child `start`ed from a passing thread (a request thread of the threaded test
  server), which the kernel would kill when the request ends;
- in every case a watchdog thread in the child waits on the parent (a pidfd, else polling `os.getppid()` twice a
  second) and kills the child when the parent is gone; and a parent already gone when the child starts is seen
  at once (its parent pid is no longer the one it was given).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "batch_cpu", "command", "die_with_parent", "env", "run", "start", "wait", "yield_cpu"]

#: The child's parent, for the child: "<pid>:<1 if the starting thread outlives the child, else 0>".
PARENT_ENV = "MEETING_SERVER_PARENT"
#: "1" in a background child's environment: its guard makes it idle-class (`yield_cpu`) before its module runs.
IDLE_ENV = "MEETING_SERVER_IDLE"
#: How often the watchdog looks at its parent pid where the kernel gives no pidfd (Linux before 5.3).
POLL_S = 0.5
_PR_SET_PDEATHSIG = 1

#: The directory that holds the `meeting_server` package.
ROOT = Path(__file__).resolve().parent.parent


def command(module: str, *args: str) -> list[str]:
    """The command line of `python -m module args…` with this interpreter, through this module's guard."""
    return [sys.executable, "-m", "meeting_server.runner", module, *args]


def env(starter_waits: bool = False) -> dict[str, str]:
    """The parent's environment with this checkout first on PYTHONPATH (no empty entry, which would mean the
    child's working directory), and who the child's parent is (`PARENT_ENV`)."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH")]))
    # The native id is the OS thread's under eventlet too: every green thread shares the main one.
    outlives = starter_waits or threading.get_native_id() == os.getpid()
    out[PARENT_ENV] = f"{os.getpid()}:{int(outlives)}"
    return out


def run(module: str, *args: str, background: bool = False, input: bytes | None = None,  # noqa: A002
        capture_output: bool = False, check: bool = False, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m module args…` to its end (keyword arguments as for `subprocess.run`); `background`: as
    idle-class work (`yield_cpu`).

    `input` and the captured output go through unlinked temporary files, not pipes: the child reads its stdin from
    the file and writes its stdout and stderr to files read once it has ended. Under eventlet a pipe is fed by
    `communicate` 4 kB at a time, each write a trip through the hub's poll (a 1.9 MB /verify upload cost the event
    loop ~155 ms of CPU that way, against ~2 ms through a file; scripts/bench/loopprobe.py found it); a file is one
    write and one read."""
    argv, child_env = _spawn(module, args, background, starter_waits=True)
    with contextlib.ExitStack() as files:
        if input is not None:
            stdin = files.enter_context(tempfile.TemporaryFile())
            stdin.write(input)
            stdin.flush()
            stdin.seek(0)
            kwargs["stdin"] = stdin
        if capture_output:
            kwargs["stdout"] = files.enter_context(tempfile.TemporaryFile())
            kwargs["stderr"] = files.enter_context(tempfile.TemporaryFile())
        timeout = kwargs.pop("timeout", None)
        with subprocess.Popen(argv, env=child_env, **kwargs) as proc:
            try:
                returncode = wait(proc, timeout)
            except BaseException:  # the time is up, or the waiting green thread was killed: so is the child
                proc.kill()
                proc.wait()
                raise
        out, err = None, None
        if capture_output:
            out, err = _read_back(kwargs["stdout"]), _read_back(kwargs["stderr"])
    done = subprocess.CompletedProcess(argv, returncode, out, err)
    if check:
        done.check_returncode()
    return done


def wait(proc: subprocess.Popen[bytes], timeout: float | None = None) -> int:
    """Wait for `proc` to end (`subprocess.TimeoutExpired` past `timeout` seconds) and return its exit status.

    On a pidfd (Linux 5.3+), which becomes readable when the process ends: under eventlet `select` is green, so the
    wait is one registration in the hub's epoll. eventlet's own `Popen.wait` polls every 10 ms instead, ~12 ms of
    the loop's CPU per second of a child's life (measured), for every child being waited for."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd here, or the process is already reaped
        return proc.wait(timeout)
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired(proc.args, timeout or 0)
    finally:
        os.close(pidfd)
    return proc.wait()


def _read_back(f: Any) -> bytes:
    f.seek(0)
    return bytes(f.read())


def start(module: str, *args: str, background: bool = False, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `python -m module args…` and return it running (keyword arguments as for `subprocess.Popen`);
    `background` as for `run`."""
    argv, child_env = _spawn(module, args, background, starter_waits=False)
    return subprocess.Popen(argv, env=child_env, **kwargs)


def _spawn(module: str, args: tuple[str, ...], background: bool, starter_waits: bool) -> tuple[list[str],
                                                                                              dict[str, str]]:
    """The command line and environment of a child. No `preexec_fn`, on purpose: with one, CPython must `fork()`
    the whole server (page tables of ~150 MB: 10–15 ms measured, the event loop frozen meanwhile) where it
    otherwise uses `vfork()` (under 1 ms). So a background child starts under `nice -n 19` (its interpreter's
    start-up, before any of our code runs) and its guard makes it idle-class (`IDLE_ENV`) before its module runs."""
    argv = command(module, *args)
    child_env = env(starter_waits=starter_waits)
    if background:
        child_env[IDLE_ENV] = "1"
        nice = shutil.which("nice")
        if nice:
            argv = [nice, "-n", "19", *argv]
    return argv, child_env


def yield_cpu() -> None:
    """Make this process background work: it runs only on CPU time the server's event loop does not want
    (SCHED_IDLE; where the kernel refuses it, the lowest niceness). A niced process still takes its share of a
    2-core box and delays the loop's wakeups; an idle-class one is preempted at once. For the batch jobs a person
    waits for in seconds (Office conversion, a /verify or signing job, a roster file, join cards), never for the
    page drawing a delegate waits for (`batch_cpu`). `run`/`start` with `background` have the child's guard call
    it before the child's module is imported (`IDLE_ENV`), its interpreter's start-up already niced."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except OSError:
            pass


def batch_cpu(nice: int) -> None:
    """Page drawing: a fair share of the CPU (a delegate waits for the page), but SCHED_BATCH, so that its waking
    never preempts the server's loop (the kernel treats it as CPU-bound and lets a running task finish its slice),
    plus `nice`. Where the kernel refuses the class, only the niceness."""
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        pass
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when the thread that started it ends (prctl PR_SET_PDEATHSIG).
    Linux only; elsewhere nothing happens. Also for a `preexec_fn` (office.py's LibreOffice box)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _guard() -> None:
    """In the child, before its module runs: die with the parent named in PARENT_ENV (see the module's doc)."""
    if os.environ.pop(IDLE_ENV, "") == "1":  # not handed on either: a grandchild says for itself
        yield_cpu()
    spec = os.environ.pop(PARENT_ENV, "")  # not handed on: a grandchild has a parent of its own
    pid, _, outlives = spec.partition(":")
    if not pid.isdigit():
        return
    parent = int(pid)
    if outlives == "1":
        die_with_parent()
    if os.getppid() != parent:  # gone before the request above took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    """Kill this process once `parent` is gone."""
    try:
        pidfd = os.pidfd_open(parent)
    except (AttributeError, OSError):
        pidfd = -1
    if pidfd >= 0 and os.getppid() == parent:  # the pidfd is of our parent, not of a later process with its pid
        select.select([pidfd], [], [])  # readable once the parent has exited
    else:
        while os.getppid() == parent:
            threading.Event().wait(POLL_S)
    os.kill(os.getpid(), signal.SIGKILL)


def _main() -> None:
    """`python -m meeting_server.runner module args…`: guard, then run `module` as `python -m module args…`."""
    import runpy

    _guard()
    module, *args = sys.argv[1:]
    sys.argv[1:] = args
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main()
