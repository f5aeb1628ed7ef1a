#!/usr/bin/env bash
# The one test command (README: `npx -y deno@2.9.6 task test`).
# Installs the Debian packages the real-part suites need when missing, then
# runs every suite and prints a closing "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v nats-server >/dev/null 2>&1 || need_pkgs+=(nats-server)
command -v socat >/dev/null 2>&1 || need_pkgs+=(socat)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v cansend >/dev/null 2>&1 || need_pkgs+=(can-utils)
[ -e /usr/lib/x86_64-linux-gnu/libusb-1.0.so.0 ] || need_pkgs+=(libusb-1.0-0)
[ -e /usr/lib/x86_64-linux-gnu/libgpiod.so.2 ] || need_pkgs+=(libgpiod2)
[ -e /usr/lib/x86_64-linux-gnu/libcrypto.so.3 ] || need_pkgs+=(libssl3)
command -v owserver >/dev/null 2>&1 || need_pkgs+=(owserver)
command -v owread >/dev/null 2>&1 || need_pkgs+=(ow-shell)
command -v lsusb >/dev/null 2>&1 || need_pkgs+=(usbutils)
command -v gpioset >/dev/null 2>&1 || need_pkgs+=(gpiod)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need_pkgs[*]} from Debian" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2 \
    || { echo "tests/run.sh: apt-get install failed" >&2; exit 1; }
fi

DENO="${DENO:-deno}"
command -v "$DENO" >/dev/null 2>&1 || DENO="npx -y deno@2.9.6"
out=$(mktemp)
# --parallel off by default: suites start real servers on 2 cores.
$DENO test --allow-all --no-check=remote "$@" tests/ 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
line=$(sed -E 's/\x1b\[[0-9;]*m//g' "$out" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$line")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$line")
ignored=$(grep -oE '[0-9]+ ignored' <<<"$line" | grep -oE '[0-9]+' || echo 0)
rm -f "$out"
echo "${passed:-0} passed, ${failed:-0} failed, ${ignored:-0} skipped"
exit $rc
