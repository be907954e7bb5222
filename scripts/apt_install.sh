#!/usr/bin/env bash
# Install Debian packages unless the programs they provide are there (idempotent).
# Usage: apt_install.sh WHAT ELSEWHERE PROGRAM... -- PACKAGE...
#   WHAT       what is installed, for the messages ("HAProxy")
#   ELSEWHERE  what to do on a machine without apt-get
set -euo pipefail

what=$1 elsewhere=$2
shift 2
programs=()
while [[ $# -gt 0 && $1 != "--" ]]; do
  programs+=("$1")
  shift
done
shift
packages=("$@")

missing=0
for program in "${programs[@]}"; do
  [[ -x "$program" ]] || missing=1
done
if [[ $missing -eq 0 ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: $what is missing and this machine has no apt-get: $elsewhere" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: $what is missing; as root run:" \
    "apt-get update && apt-get install -y ${packages[*]}" >&2
  exit 1
fi

echo "Installing $what (Debian packages: ${packages[*]})..."
export DEBIAN_FRONTEND=noninteractive
apt_install=(apt-get install -y -qq --no-install-recommends "${packages[@]}")
# Package lists may be missing (fresh containers) or stale: refresh once on failure.
if ! "${apt_install[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  "${apt_install[@]}" >/dev/null
fi
for program in "${programs[@]}"; do
  if [[ ! -x "$program" ]]; then
    echo "error: $program is still missing after installing ${packages[*]}" >&2
    exit 1
  fi
done
echo "$what installed."
