#!/usr/bin/env bash
# Make sure Debian's PyTorch is importable by /usr/bin/python3: the `mspec export --to torch`
# tests run the exported model.py and train.py with it (test/cli/export-torch.test.ts).
#
# Idempotent: when `/usr/bin/python3 -c 'import torch'` works it exits 0 without touching apt.
# Otherwise it installs python3-torch with --no-install-recommends (which keeps the install
# small: no CUDA, no docs), saying so; it fails clearly when it is not root or has no apt-get.
#
# Usage: bash scripts/setup-torch.sh        (as root on Debian/Ubuntu when it must install)
set -euo pipefail

say() { echo "setup-torch: $*"; }
die() { echo "setup-torch: error: $*" >&2; exit 1; }

probe() { /usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null; }

if version=$(probe); then
  say "PyTorch $version found (/usr/bin/python3); nothing to install."
  exit 0
fi

[ -x /usr/bin/python3 ] || say "/usr/bin/python3 is missing; python3-torch brings it."
command -v apt-get >/dev/null 2>&1 ||
  die "/usr/bin/python3 cannot import torch and this machine has no apt-get; install PyTorch for /usr/bin/python3 (Debian/Ubuntu: python3-torch), then run this script again."
[ "$(id -u)" = 0 ] ||
  die "/usr/bin/python3 cannot import torch; installing python3-torch needs root: run \`sudo bash scripts/setup-torch.sh\` (or \`sudo apt-get install -y --no-install-recommends python3-torch\`)."

say "/usr/bin/python3 cannot import torch: installing Debian's python3-torch (apt-get install -y --no-install-recommends python3-torch)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || die "apt-get update failed; see the output above."
apt-get install -y -qq --no-install-recommends python3-torch || die "apt-get install python3-torch failed; see the output above."

version=$(probe) || die "python3-torch is installed but /usr/bin/python3 still cannot import torch."
say "installed PyTorch $version."
