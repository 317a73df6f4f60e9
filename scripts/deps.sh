#!/usr/bin/env bash
# deps.sh [run|test|bench|fuzz]: installs what Haineko needs, from Debian 12 packages only.
#   run    building and running the server (the quick start)
#   test   run + the unit-test libraries, every test peer, and clang for the fuzz targets
#   bench  run + Postfix's smtp-sink/smtp-source, wrk, and Node.js with npm (Haraka, an anchor)
#   fuzz   run + clang 14 with its libFuzzer and sanitizer runtimes
# Without an argument: test (everything).
set -euo pipefail
profile=${1:-test}
run=(
  cmake g++ make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libyaml-cpp-dev libc-ares-dev libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev libpq-dev
  liblua5.4-dev
  openssl ca-certificates
)
peers=(curl postfix python3-aiosmtpd python3-jsonschema swaks libnet-ssleay-perl wrk dnsmasq
       opendkim opendkim-tools libmilter-dev python3-dkim postgresql-15 prometheus
       dovecot-core dovecot-lmtpd python3-dnslib)
fuzz=(clang-14 libclang-rt-14-dev)
case "$profile" in
  run) packages=("${run[@]}") ;;
  test) packages=("${run[@]}" libgtest-dev libgmock-dev "${peers[@]}" "${fuzz[@]}") ;;
  bench)
    packages=("${run[@]}" curl postfix wrk nodejs)
    # Debian's npm, unless npm came with another nodejs build (NodeSource's has it inside).
    command -v npm >/dev/null || packages+=(npm) ;;
  fuzz) packages=("${run[@]}" "${fuzz[@]}") ;;
  *) echo "deps.sh: unknown profile $profile (run, test, bench or fuzz)" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # postfix asks questions on install; "No configuration" keeps it from starting a daemon.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
