#!/usr/bin/env bash
# Installs the Debian packages WarpLink builds, tests and benchmarks with.
# Idempotent: asks apt only for what is missing, so `make run` stays fast
# on a machine that already has everything.
set -euo pipefail

BUILD_PKGS=(build-essential pkg-config libsqlite3-dev libsodium-dev
            libjansson-dev libmaxminddb-dev libisal-dev)
TEST_PKGS=(clang libclang-rt-14-dev libcmocka-dev python3-pytest
           python3-requests libmaxmind-db-writer-perl sqlite3 clang-format faketime)
BENCH_PKGS=(wrk nginx-light)

want=("${BUILD_PKGS[@]}")
case "${1:-build}" in
  build) ;;
  test)  want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]} (run as root or install them)" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
