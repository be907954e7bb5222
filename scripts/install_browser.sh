#!/usr/bin/env bash
# Install headless Chromium and its driver (Debian packages) for the browser tests.
# Elsewhere, install them yourself and point CHROMIUM_BINARY and CHROMEDRIVER at them.
set -euo pipefail

CHROMIUM_BINARY=${CHROMIUM_BINARY:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}

if [[ -x "$CHROMIUM_BINARY" && -x "$CHROMEDRIVER" ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the browser tests need Chromium ($CHROMIUM_BINARY) and chromedriver" \
    "($CHROMEDRIVER); install both, or set CHROMIUM_BINARY and CHROMEDRIVER" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: Chromium is missing; as root run:" \
    "apt-get update && apt-get install -y chromium chromium-driver" >&2
  exit 1
fi

echo "Installing Chromium and chromedriver (Debian packages)..."
export DEBIAN_FRONTEND=noninteractive
apt_install=(apt-get install -y -qq --no-install-recommends chromium chromium-driver)
# Package lists may be missing (fresh containers) or stale: refresh once on failure.
if ! "${apt_install[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  "${apt_install[@]}" >/dev/null
fi
for binary in "$CHROMIUM_BINARY" "$CHROMEDRIVER"; do
  if [[ ! -x "$binary" ]]; then
    echo "error: $binary is still missing after installing chromium and chromium-driver" >&2
    exit 1
  fi
done
echo "Chromium installed: $("$CHROMEDRIVER" --version)"
