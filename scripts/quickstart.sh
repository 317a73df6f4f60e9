#!/usr/bin/env bash
# Installs, builds, writes a local config tree (once) and runs Haineko in the foreground
# on 127.0.0.1:2794. Mail goes to the File mailer in ./haineko-local/outbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh run
bash scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release -DHAINEKO_TESTS=OFF
root=${HAINEKO_LOCAL:-$PWD/haineko-local}
[ -d "$root" ] || ./build-release/hainekoctl setup --dest "$root"
echo "Haineko root: $root (outbox: $root/outbox)"
export HAINEKO_ROOT="$root"
exec ./build-release/hainekoctl run -o 127.0.0.1 -p 2794
