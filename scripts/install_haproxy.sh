#!/usr/bin/env bash
# Install HAProxy (Debian package) for `make run-production` and the production tests
# (idempotent). Elsewhere, install HAProxy 2.4 or later and set HAPROXY to its path.
set -euo pipefail

HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}

if [[ -x "$HAPROXY" ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: production mode needs HAProxy ($HAPROXY is missing); install it" \
    "(2.4 or later), or set HAPROXY to its path" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: HAProxy is missing; as root run:" \
    "apt-get update && apt-get install -y haproxy" >&2
  exit 1
fi

echo "Installing HAProxy (Debian package)..."
export DEBIAN_FRONTEND=noninteractive
apt_install=(apt-get install -y -qq --no-install-recommends haproxy)
# Package lists may be missing (fresh containers) or stale: refresh once on failure.
if ! "${apt_install[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  "${apt_install[@]}" >/dev/null
fi
if [[ ! -x "$HAPROXY" ]]; then
  echo "error: $HAPROXY is still missing after installing haproxy" >&2
  exit 1
fi
# The package's own service (where one is started) reads /etc/haproxy/haproxy.cfg,
# which listens nowhere; Switchboard's runs from the generated var/haproxy.cfg.
echo "HAProxy installed: $("$HAPROXY" -v | head -n 1)"
