# Shared by scripts/serve and scripts/test: a virtual environment in .venv with the project installed.
# Sourced, not run. Idempotent: a second run only checks.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MEETING_SERVER_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
source "$REPO/scripts/_packages.sh"

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

apt_ensure_packages_with_consent() {
  # Say what is missing and why, ask on a terminal (Enter = yes), then install; a no leaves the machine as it is.
  local why="$1"; shift
  command -v dpkg-query >/dev/null 2>&1 || { echo "Không có dpkg: hãy tự cài (no dpkg, install by hand): $*"; return 0; }
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "scripts/serve sẽ cài bằng apt-get (will install with apt-get): ${missing[*]}"
  echo "  Để làm gì (what for): $why"
  echo "  Bỏ qua (to skip): MEETING_SERVER_NO_APT=1 scripts/serve"
  if [ -t 0 ]; then
    local answer
    read -r -p "Cài ngay? (install now?) [Y/n] " answer
    case "$answer" in
      [nNkK]*) echo "Không cài: tệp Word/Excel sẽ bị từ chối với thông báo rõ ràng (not installed: Office uploads will be refused)."; return 0 ;;
    esac
  fi
  apt_ensure_packages "${missing[@]}"
}
