#!/bin/sh
# nginx for `make prod`, `make prod-check` and `make bench-ws` (variant n): Debian's package,
# installed here and only here.
# Does nothing when /usr/sbin/nginx is there. Needs root (or sudo) and apt-get. The package's
# own service is not used: the project runs nginx as its own process (deploy/prod.py).
set -eu
NGINX=/usr/sbin/nginx

if [ -x "$NGINX" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "nginx is missing and apt-get is not available: install nginx (1.22 or newer) so that $NGINX exists." >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "nginx is missing: run this script as root (apt-get install needs it)." >&2
    exit 1
fi

echo "Installing Debian's nginx package (apt-get install nginx)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
# The package may have started its own service on port 80 (where the init system lets it):
# the project runs nginx as its own process, on its own ports.
if command -v service >/dev/null 2>&1; then
    $SUDO service nginx stop >/dev/null 2>&1 || true
fi
"$NGINX" -v
