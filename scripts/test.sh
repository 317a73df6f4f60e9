#!/usr/bin/env bash
# Installs, builds and runs every test: unit and integration on a normal build,
# then the same suite on an ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
jobs=$(nproc)
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHAINEKO_TESTS=ON
(cd build && ctest --output-on-failure -j"$jobs")
if [ "${HAINEKO_SKIP_SANITIZE:-0}" != 1 ]; then
  bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DHAINEKO_SANITIZE=ON -DHAINEKO_TESTS=ON
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure -j"$jobs")
fi
# Then every fuzz target for 30 s on its seed corpus (fuzz/README.md).
if [ "${HAINEKO_SKIP_FUZZ:-0}" != 1 ]; then
  bash scripts/fuzz.sh 30
fi
