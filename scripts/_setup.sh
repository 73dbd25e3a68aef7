# Shared by scripts/serve and scripts/test: a virtual environment in .venv with the project installed.
# Sourced, not run. Idempotent: a second run only checks.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MEETING_SERVER_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "Tạo môi trường Python tại $VENV (creating the virtual environment)…"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi

ensure_project() {
  # Reinstall only when setup.cfg changed since the last install.
  local extras="$1" stamp="$VENV/.installed-$1"
  if [ ! -f "$stamp" ] || [ "$REPO/setup.cfg" -nt "$stamp" ]; then
    echo "Cài đặt meeting-server vào $VENV (installing)…"
    "$VENV/bin/pip" install --quiet -e "$REPO$extras"
    touch "$stamp"
  fi
}

apt_ensure_packages() {
  # Install the Debian packages that are not installed yet (a no-op on a second run).
  command -v dpkg-query >/dev/null 2>&1 || { echo "dpkg-query not found: install by hand: $*"; return 0; }
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Cài gói hệ thống (installing system packages): ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
