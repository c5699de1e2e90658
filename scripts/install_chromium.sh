#!/usr/bin/env bash
# Debian's chromium and chromium-driver, for the admin's browser tests (signals/tests/browser).
# Called by the test set-up when /usr/bin/chromium or /usr/bin/chromedriver is missing; does
# nothing when both are there. Needs root (or password-less sudo) and Debian's package mirror.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install_chromium: root (or password-less sudo) is needed to apt-get install chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Other jobs may hold the package lock for a while (another install, an update): wait for it.
apt=(apt-get -o DPkg::Lock::Timeout=600 -q -y)
"${as_root[@]}" "${apt[@]}" update >/dev/null
# fonts-dejavu-core: headless Chromium lays text out (and screenshots it) with real glyphs.
"${as_root[@]}" "${apt[@]}" install --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
