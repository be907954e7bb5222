#!/usr/bin/env bash
# Install headless Chromium and its driver (Debian packages) for the browser tests.
# Elsewhere, install them yourself and point CHROMIUM_BINARY and CHROMEDRIVER at them.
set -euo pipefail

CHROMIUM_BINARY=${CHROMIUM_BINARY:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}

exec "$(dirname "$0")/apt_install.sh" "Chromium and chromedriver" \
  "the browser tests need Chromium ($CHROMIUM_BINARY) and chromedriver ($CHROMEDRIVER); install both, or set CHROMIUM_BINARY and CHROMEDRIVER" \
  "$CHROMIUM_BINARY" "$CHROMEDRIVER" -- chromium chromium-driver
