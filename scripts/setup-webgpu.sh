#!/usr/bin/env bash
# Make sure Node can get a WebGPU adapter (npm `webgpu`, i.e. Dawn) on this machine.
#
# On a machine with a GPU and a working Vulkan/Metal/D3D12 driver there is nothing to do.
# On a GPU-less Linux machine Dawn needs a software Vulkan driver: Mesa's lavapipe.
# Debian 12 (bookworm) ships Mesa 22.3, whose lavapipe lacks a feature Dawn requires
# (shaderUniform*ArrayDynamicIndexing), so there we take mesa-vulkan-drivers from
# bookworm-backports (Mesa 25), reusing the mirror apt is already configured with.
# See shared/design/webgpu-on-cpu.md for the measurements behind this.
#
# Idempotent: the first thing it does is ask Dawn for an adapter; if one exists it exits 0
# without touching apt. Needs `npm ci` (for the `webgpu` package) to have been run first.
#
# Usage: bash scripts/setup-webgpu.sh        (as root on Debian/Ubuntu when it must install)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}   # silences a Mesa warning about it

say() { echo "setup-webgpu: $*"; }
die() { echo "setup-webgpu: error: $*" >&2; exit 1; }

# Prints a one-line description of the adapter and exits 0, exits 3 when there is none,
# exits 4 when the `webgpu` package is not installed.
probe_adapter() {
  node --input-type=module -e '
    let mod;
    try { mod = await import("webgpu"); } catch { process.exit(4); }
    Object.assign(globalThis, mod.globals);
    const adapter = await mod.create([]).requestAdapter();
    if (!adapter) process.exit(3);
    const i = adapter.info;
    console.log(`${i.vendor || "?"} / ${i.architecture || "?"} / ${i.description || "?"}`);
    process.exit(0);
  ' 2>/tmp/setup-webgpu-probe.$$.err
}

check() {
  local rc=0 desc
  desc=$(probe_adapter) || rc=$?
  case $rc in
    0) say "WebGPU adapter found: $desc"; return 0 ;;
    3) return 3 ;;
    4) die "the npm package 'webgpu' is not installed in $repo_root; run \`npm ci\` first, then run this script again." ;;
    *) cat /tmp/setup-webgpu-probe.$$.err >&2 || true
       die "the adapter probe crashed (exit $rc); see the output above." ;;
  esac
}

trap 'rm -f /tmp/setup-webgpu-probe.$$.err' EXIT

say "checking whether Dawn (npm 'webgpu') already finds a WebGPU adapter..."
rc=0; check || rc=$?
if [ "$rc" = 0 ]; then
  say "nothing to install."
  exit 0
fi

reason=$(grep -v -i 'maxDynamic' /tmp/setup-webgpu-probe.$$.err | grep -m1 -i -E 'vulkan|error|warning' || true)
say "no WebGPU adapter. ${reason:+(Dawn said: $reason)}"
say "this looks like a machine without a usable GPU driver; installing Mesa's software Vulkan"
say "driver (lavapipe), which runs WebGPU compute on the CPU."

os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
os_like=$(. /etc/os-release 2>/dev/null && echo "${ID_LIKE:-}")
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "$(uname -s)" != Linux ] || ! command -v apt-get >/dev/null || \
   { [ "$os_id" != debian ] && [[ " $os_like " != *" debian "* ]]; }; then
  die "automatic install is only implemented for Debian/Ubuntu. Install by hand:
  - the Vulkan loader (libvulkan.so.1; Debian/Ubuntu: libvulkan1, Fedora: vulkan-loader)
  - Mesa's lavapipe, version 23 or newer (Debian/Ubuntu: mesa-vulkan-drivers, Fedora: mesa-vulkan-drivers)
  or use a machine with a GPU driver. Then run this script again to check."
fi
if [ "$(id -u)" != 0 ]; then
  die "installing needs root. Run it as root (e.g. \`sudo bash scripts/setup-webgpu.sh\`), or by hand:
  apt-get update && apt-get install -y libvulkan1 mesa-vulkan-drivers
  (on Debian 12 'bookworm' mesa-vulkan-drivers must come from bookworm-backports: Mesa 22.3 is too old for Dawn)"
fi

export DEBIAN_FRONTEND=noninteractive
say "apt-get update"
apt-get update -qq
say "installing libvulkan1 (the Vulkan loader Dawn opens)"
apt-get install -y -qq libvulkan1 >/dev/null

# Mesa older than 23 has a lavapipe Dawn rejects; on Debian take it from backports.
candidate=$(apt-cache policy mesa-vulkan-drivers | awk '/Candidate:/{print $2}')
major=$(echo "$candidate" | sed -E 's/^[0-9]+://; s/^([0-9]+).*/\1/')
target=()
if [ -z "$major" ] || [ "$major" = "(none)" ] || [ "${major:-0}" -lt 23 ] 2>/dev/null; then
  [ "$os_id" = debian ] && [ -n "$codename" ] || \
    die "the distribution's mesa-vulkan-drivers is ${candidate:-missing}, too old for Dawn (needs Mesa >= 23); install a newer Mesa by hand."
  say "the default mesa-vulkan-drivers is ${candidate:-missing} (lavapipe there lacks a feature Dawn needs); using ${codename}-backports"
  if ! grep -rqs -- "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$uri" ] || die "could not find the configured Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    say "adding /etc/apt/sources.list.d/backports.list (same mirror apt already uses, suite ${codename}-backports)"
    echo "deb $uri ${codename}-backports main" > /etc/apt/sources.list.d/backports.list
  else
    say "${codename}-backports is already configured"
  fi
  apt-get update -qq
  target=(-t "${codename}-backports")
fi
say "installing mesa-vulkan-drivers ${target[*]:-} (lavapipe)"
apt-get install -y -qq "${target[@]}" mesa-vulkan-drivers >/dev/null

say "checking again..."
rc=0; check || rc=$?
if [ "$rc" != 0 ]; then
  cat /tmp/setup-webgpu-probe.$$.err >&2 || true
  die "still no WebGPU adapter after installing lavapipe; see Dawn's output above."
fi
say "done. (Tip: export XDG_RUNTIME_DIR=/tmp if Mesa warns that it is unset.)"
