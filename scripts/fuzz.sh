#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...]: installs what it needs, builds the libFuzzer targets of
# fuzz/ into build-fuzz (clang 14, ASan + UBSan) and runs each target for SECONDS (default
# 30), two at a time, on a temporary copy of its seed corpus fuzz/corpus/TARGET, so that
# nothing is written into the repository. Exits non-zero when a target finds a crash, a
# leak, a timeout or an out-of-memory, printing the target and the reproducer's path.
#
#   bash scripts/fuzz.sh            # every target, 30 s each (what CI runs)
#   bash scripts/fuzz.sh 3600       # an hour each
#   bash scripts/fuzz.sh 600 yaml_config http_request
#
# FUZZ_WORKDIR=DIR keeps the corpora, artifacts and logs in DIR (default: a new temp
# directory, removed when every target passed). See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
all_targets=(json_checks http_request message_builder smtp_reply yaml_config cidr_address v1_request mime_reader smtpd_input milter_reply
             dns_records plugin_message)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -d "fuzz/corpus/$t" ] || { echo "fuzz.sh: no such target: $t (one of: ${all_targets[*]})" >&2; exit 2; }
done

bash scripts/deps.sh fuzz
jobs=$(nproc)
[ "$jobs" -le 2 ] || jobs=2
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DHAINEKO_FUZZ=ON -DHAINEKO_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" >/dev/null
nice -n 10 cmake --build build-fuzz --target fuzz_all -j"$jobs"

work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/haineko-fuzz.XXXXXX")}
mkdir -p "$work"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:handle_abort=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_target() {
  local t=$1
  local corpus="$work/corpus/$t" artifacts="$work/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  local dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  local rc=0
  nice -n 10 "build-fuzz/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$artifacts" "$corpus" >"$work/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$work/$t.rc"
}

# Two at a time: one per core.
pending=("${targets[@]}")
while [ ${#pending[@]} -gt 0 ]; do
  batch=("${pending[@]:0:2}")
  pending=("${pending[@]:2}")
  for t in "${batch[@]}"; do
    echo "fuzz: $t for ${seconds}s"
    run_target "$t" &
  done
  wait
done

failed=0
for t in "${targets[@]}"; do
  rc=$(cat "$work/$t.rc")
  found=$(find "$work/artifacts/$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  stats=$(grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs)' "$work/$t.log" | tail -2 | tr '\n' ' ' || true)
  if [ "$rc" != 0 ] || [ -n "$found" ]; then
    failed=1
    echo "FUZZ FAILURE: target $t (exit $rc)"
    for f in $found; do echo "  reproducer: $f"; done
    echo "  log: $work/$t.log"
    echo "  reproduce: build-fuzz/fuzz/fuzz_$t <reproducer>"
    echo "----- last lines of $t.log -----"
    grep -v -E '^(#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|0x[0-9a-f]+,)' "$work/$t.log" | tail -40 || true
    echo "-----"
  else
    echo "fuzz: $t passed: $stats"
  fi
done
if [ "$failed" != 0 ]; then
  echo "fuzz: findings kept in $work (see fuzz/README.md: a crash becomes a unit test)"
  exit 1
fi
[ -n "${FUZZ_WORKDIR:-}" ] || rm -rf "$work"
echo "fuzz: ${#targets[@]} targets passed, ${seconds}s each"
