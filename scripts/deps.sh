#!/usr/bin/env bash
# Installs everything Haineko needs to build, run and test, from Debian 12 packages only.
set -euo pipefail
packages=(
  cmake g++ make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libyaml-cpp-dev libc-ares-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev
  openssl ca-certificates curl
  postfix python3-aiosmtpd swaks wrk dnsmasq
  clang-14 libclang-rt-14-dev
)
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
