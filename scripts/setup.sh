#!/usr/bin/env bash
# Set up everything hub-agent needs on a fresh machine, idempotently:
#   scripts/setup.sh          the virtual environment with hub-agent installed (for the demo)
#   scripts/setup.sh --test   plus test tools and test peers (zwave-js mock, Chromium, systemd-analyze)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=no
[[ "${1:-}" == "--test" ]] && want_test=yes

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "hub-agent needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
    exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
    echo "== creating .venv"
    "$python" -m venv .venv
fi

# zigbee-znp: zigpy-znp, which the demo and the tests run over our ZNP coordinator emulator
extras="ble,zigbee-znp"
[[ $want_test == yes ]] && extras="ble,zigbee-znp,test"
stamp=".venv/.hub-agent-installed"
wanted="$extras $(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [[ ! -f $stamp || "$(cat "$stamp")" != "$wanted" ]]; then
    echo "== installing hub-agent[$extras] (pinned by constraints.txt)"
    # The machine's pip configuration may list local mirrors that do not exist; their warnings are noise.
    quiet_pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
    quiet_pip install --quiet --upgrade pip
    quiet_pip install -qq -c constraints.txt -e ".[$extras]"
    echo "$wanted" > "$stamp"
fi

[[ $want_test == yes ]] || exit 0

apt_install() {
    # Debian packages the tests run against; installed only when missing.
    local missing=()
    for pair in "$@"; do
        local binary=${pair%%:*} package=${pair##*:}
        # "binary" is a command name, or an absolute path for packages without one (headers)
        if [[ $binary == /* ]]; then [[ -e $binary ]] || missing+=("$package")
        else command -v "$binary" >/dev/null 2>&1 || missing+=("$package"); fi
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
        echo "missing Debian packages: ${missing[*]} (install them as root)" >&2
        exit 1
    fi
    local run=()
    [[ $(id -u) -ne 0 ]] && run=(sudo)
    echo "== installing Debian packages: ${missing[*]}"
    "${run[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
apt_install systemd-analyze:systemd chromium:chromium chromedriver:chromium-driver mosquitto:mosquitto
# tests/ota runs the real RAUC service (plain bundles are squashfs images, loop-mounted while installing).
apt_install rauc:rauc mksquashfs:squashfs-tools
# The BlueZ peer of tests/ble (python-dbusmock) needs dbus-python, which builds against libdbus and GLib,
# so its extra is installed once the headers are there.
apt_install dbus-daemon:dbus pkg-config:pkg-config gcc:gcc \
    /usr/include/dbus-1.0/dbus/dbus.h:libdbus-1-dev /usr/include/glib-2.0/glib.h:libglib2.0-dev
if ! .venv/bin/python -c 'import dbus, dbusmock' 2>/dev/null; then
    echo "== installing hub-agent[bluez-test] (python-dbusmock, dbus-python)"
    .venv/bin/python -m pip install -qq -c constraints.txt -e ".[$extras,bluez-test]" \
        2> >(grep -v "is ignored: it is neither" >&2)
fi

for peer in tests/peers/*/; do
    [[ -f "$peer/package-lock.json" ]] || continue
    stamp="$peer/node_modules/.hub-agent-installed"
    wanted=$(sha256sum "$peer/package-lock.json" | cut -c1-16)
    if [[ ! -f $stamp || "$(cat "$stamp")" != "$wanted" ]]; then
        echo "== installing test peer $peer (npm ci, pinned by its lock file)"
        npm ci --prefix "$peer" --no-audit --no-fund --loglevel=error
        echo "$wanted" > "$stamp"
    fi
done
