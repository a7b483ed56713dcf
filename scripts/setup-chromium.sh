#!/usr/bin/env bash
# Make sure a headless Chromium is installed for the browser test (test/browser/), which drives
# it with playwright-core. Debian's `chromium` package is what is used: playwright-core
# downloads no browser, and Debian's build exposes WebGPU headless with
# --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader (see shared/design/webgpu-on-cpu.md).
#
# Idempotent: if `chromium` is already on PATH (or MSPEC_CHROMIUM names an executable) it
# says so and exits 0 without touching apt.
#
# Usage: bash scripts/setup-chromium.sh      (as root on Debian/Ubuntu when it must install)
set -euo pipefail

say() { echo "setup-chromium: $*"; }
die() { echo "setup-chromium: error: $*" >&2; exit 1; }

if [ -n "${MSPEC_CHROMIUM:-}" ]; then
  [ -x "$MSPEC_CHROMIUM" ] || die "MSPEC_CHROMIUM=$MSPEC_CHROMIUM is not an executable file."
  say "using MSPEC_CHROMIUM=$MSPEC_CHROMIUM; nothing to install."
  exit 0
fi
if path=$(command -v chromium); then
  say "chromium found at $path ($("$path" --version 2>/dev/null || echo 'version unknown')); nothing to install."
  exit 0
fi

say "chromium is not installed; the browser test needs it (headless, driven by playwright-core)."
os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
os_like=$(. /etc/os-release 2>/dev/null && echo "${ID_LIKE:-}")
if [ "$(uname -s)" != Linux ] || ! command -v apt-get >/dev/null || \
   { [ "$os_id" != debian ] && [[ " $os_like " != *" debian "* ]]; }; then
  die "automatic install is only implemented for Debian/Ubuntu. Install Chromium by hand and
  point MSPEC_CHROMIUM at its executable, then run this script again to check."
fi
if [ "$(id -u)" != 0 ]; then
  die "installing needs root. Run it as root (e.g. \`sudo bash scripts/setup-chromium.sh\`), or by hand:
  apt-get update && apt-get install -y --no-install-recommends chromium"
fi

export DEBIAN_FRONTEND=noninteractive
say "apt-get update"
apt-get update -qq
say "installing chromium (--no-install-recommends)"
apt-get install -y -qq --no-install-recommends chromium >/dev/null
path=$(command -v chromium) || die "apt installed 'chromium' but no 'chromium' is on PATH."
say "done: $path ($("$path" --version 2>/dev/null || echo 'version unknown'))."
