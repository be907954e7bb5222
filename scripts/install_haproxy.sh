#!/usr/bin/env bash
# Install HAProxy (Debian package) for `make run-production` and the fault tests
# (idempotent). Elsewhere, install HAProxy 2.4 or later and set HAPROXY to its path.
# The package's own service (where one is started) reads /etc/haproxy/haproxy.cfg,
# which listens nowhere; Switchboard's runs from the generated var/haproxy.cfg.
set -euo pipefail

HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}

exec "$(dirname "$0")/apt_install.sh" HAProxy \
  "production mode needs HAProxy ($HAPROXY); install it (2.4 or later), or set HAPROXY to its path" \
  "$HAPROXY" -- haproxy
