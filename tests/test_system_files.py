"""Every system file the code and the tests use comes from a Debian package that the scripts install, so a clean
machine passes `scripts/test` and `scripts/serve` leaves a server that converts Word/Excel.

The scan reads every Python file of meeting_server/, tests/ and scripts/ with `ast`: string literals that are
absolute system paths (/usr, /bin, /lib, /etc, /opt…) and the programs run by subprocess or looked up with
`shutil.which`. Each must be in one of the tables below, and each package there in scripts/_packages.sh (the lists
that scripts/serve, scripts/test and scripts/install-minipc install). Where dpkg can tell, the file or program really
belongs to that package (or to one it depends on).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("meeting_server", "tests", "scripts")
_SYSTEM_PATH = re.compile(r"^/(usr|bin|sbin|lib|lib64|etc|opt)/")
_RUNNERS = {"run", "Popen", "check_output", "check_call", "call", "which"}

#: System files and programs the code or the tests use → the package of scripts/_packages.sh that installs them.
SERVER = {
    "/usr/bin/soffice": "libreoffice-common",
    "/usr/lib/libreoffice/program/soffice": "libreoffice-writer-nogui",
    "/usr/bin/unshare": "util-linux",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "nice": "coreutils",  # background children start under it (runner.py)
    # The vendored copy in static/fonts comes first; Debian's is the fallback of a bare package, and LibreOffice's.
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf": "fonts-liberation2",
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf": "fonts-liberation2",
    # Reading mode's OCR of scanned pages (documents/reading.py): the program and its Vietnamese model.
    "tesseract": "tesseract-ocr",
    "/usr/share/tesseract-ocr/5/tessdata": "tesseract-ocr",  # libtesseract5 owns the folder; -vie fills it
    # pg_dump and pg_restore of the server's major (services/pgbackup.py), in postgresql-client-N's folder; the
    # tests' initdb and pg_ctl (tests/pg_kit.py) are in the same folder, from `postgresql` (TEST_PACKAGES).
    "/usr/lib/postgresql/": "postgresql-client",
}
TESTS = {
    "chromium": "chromium",
    "/usr/bin/chromium": "chromium",
    "pdffonts": "poppler-utils",
    "pdfsig": "poppler-utils",
    "pdftoppm": "poppler-utils",
    "redis-server": "redis-server",
    "haproxy": "haproxy",
    "softhsm2-util": "softhsm2",
    "/usr/lib/softhsm/libsofthsm2.so": "libsofthsm2",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so": "libsofthsm2",
    "systemd-analyze": "systemd",
    "zbarimg": "zbar-tools",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf": "fonts-dejavu-core",
    "/usr/bin/WebKitWebDriver": "webkit2gtk-driver",
    "/usr/bin/Xvfb": "xvfb",
}
#: Named on purpose though nothing installs them, each with the reason.
NOT_SYSTEM_FILES = {
    "/opt/libreoffice/program/soffice": "where LibreOffice's own tarball installs, probed only after Debian's",
    "/opt/meeting-server/": "what scripts/install-minipc creates (tests/appliance/test_install.py)",
    "/opt/meeting-server/venv/bin/meeting-server": "what scripts/install-minipc creates",
    "/usr/local/bin/": "where scripts/install-minipc links the command",
    "/usr/bin/python3": "the interpreter the README asks for before anything (python3 3.11+ with venv)",
    "/usr/bin:/bin": "a PATH value, not a file",
    "dpkg": "Debian's own package tool: the test that asks it is skipped where it is missing",
    "dpkg-query": "Debian's own package tool (scripts/_setup.sh asks it too)",
    "/etc/default/meeting-server": "the settings file scripts/install-minipc writes (doctor reads it when present)",
    "/etc/ssl/certs/ca-certificates.crt": "made by update-ca-certificates of ca-certificates (SERVER_PACKAGES); "
                                          "no package owns the generated bundle",
    "nmcli": "NetworkManager's client, read only where it runs the hotspot (install-minipc --hotspot requires it); "
             "without it the clerk console says what the installer configured",
    "/etc/hostname": "the machine's own name, on every Debian system (no package owns it)",
}


def scan() -> dict[str, set[str]]:
    """Each system path or program named in the scanned code → the files that name it."""
    found: dict[str, set[str]] = {}
    for base in SCANNED:
        for path in sorted((ROOT / base).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SYSTEM_PATH.match(node.value):
                    found.setdefault(node.value, set()).add(where)
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                if isinstance(func, ast.Attribute):
                    if not (isinstance(func.value, ast.Name) and func.value.id in ("subprocess", "shutil")):
                        continue
                    name = func.attr
                else:
                    name = getattr(func, "id", None)
                if name not in _RUNNERS:
                    continue
                first = node.args[0]
                if isinstance(first, ast.List) and first.elts:
                    first = first.elts[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.setdefault(first.value, set()).add(where)
    return found


def package_lists() -> dict[str, set[str]]:
    """SERVER_PACKAGES and TEST_PACKAGES as scripts/_packages.sh writes them (bash arrays)."""
    text = (ROOT / "scripts" / "_packages.sh").read_text()
    lists = {}
    for name in ("SERVER_PACKAGES", "TEST_PACKAGES"):
        match = re.search(rf"^{name}=\((.*?)\)", text, re.MULTILINE | re.DOTALL)
        assert match, f"{name} missing from scripts/_packages.sh"
        lists[name] = set(match.group(1).split())
    return lists


def test_every_system_file_named_in_the_code_is_accounted_for() -> None:
    named = scan()
    known = SERVER.keys() | TESTS.keys() | NOT_SYSTEM_FILES.keys()
    unknown = {name: sorted(where) for name, where in named.items() if name not in known}
    assert not unknown, f"system files or programs used without a package that installs them: {unknown}"
    # The scan finds what it must (it cannot pass by finding nothing).
    assert {"/usr/bin/soffice", "pdfsig", "chromium", "unshare"} <= named.keys()


def test_each_package_is_installed_by_the_scripts() -> None:
    lists = package_lists()
    assert set(SERVER.values()) <= lists["SERVER_PACKAGES"]
    assert set(TESTS.values()) <= lists["SERVER_PACKAGES"] | lists["TEST_PACKAGES"]
    # Word and Excel are part of the main job: the server's own list carries LibreOffice's writer and calc.
    assert {"libreoffice-writer-nogui", "libreoffice-calc-nogui"} <= lists["SERVER_PACKAGES"]


def test_the_scripts_install_those_lists() -> None:
    scripts = ROOT / "scripts"
    assert 'source "$REPO/scripts/_packages.sh"' in (scripts / "_setup.sh").read_text()
    assert '"${SERVER_PACKAGES[@]}"' in (scripts / "serve").read_text()
    assert 'apt_ensure_packages "${SERVER_PACKAGES[@]}" "${TEST_PACKAGES[@]}"' in (scripts / "test").read_text()
    install = (scripts / "install-minipc").read_text()
    assert 'source "$SRC/scripts/_packages.sh"' in install and '"${SERVER_PACKAGES[@]}"' in install


@cache
def _installed_depends() -> dict[str, set[str]]:
    """Each installed package → the packages it names in Depends, Pre-Depends and Provides (dpkg's own data)."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}, ${Provides}\n"],
                         capture_output=True, text=True, check=True)
    table: dict[str, set[str]] = {}
    for line in out.stdout.splitlines():
        package, _, rest = line.partition("\t")
        names = {alt.strip().split(" ")[0].split(":")[0] for alt in re.split(r"[,|]", rest)}
        table.setdefault(package, set()).update(n for n in names if n)
    return table


def _depends(package: str) -> set[str]:
    """The package and everything it depends on, as installed here."""
    table = _installed_depends()
    seen: set[str] = set()
    todo = [package]
    while todo:
        pkg = todo.pop()
        if pkg not in seen:
            seen.add(pkg)
            todo.extend(table.get(pkg, ()))
    return seen


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian machine: dpkg cannot say who owns a file")
def test_the_files_present_here_belong_to_the_named_packages() -> None:
    checked = 0
    for name, package in {**SERVER, **TESTS}.items():
        path = name if name.startswith("/") else shutil.which(name)
        if path is None or not Path(path).exists():
            continue
        out = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if out.returncode != 0:
            resolved = str(Path(path).resolve())
            out = subprocess.run(["dpkg", "-S", resolved], capture_output=True, text=True)
        assert out.returncode == 0, f"{path}: no Debian package owns it ({out.stderr.strip()})"
        owners = {o.strip().split(":")[0] for o in out.stdout.split(":", 1)[0].replace("diversion by", "").split(",")}
        assert owners & _depends(package), f"{path} belongs to {owners}, not to {package} or what it pulls in"
        checked += 1
    assert checked
