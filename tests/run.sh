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
# OpenSSL headers for the libcrypto back end's frame shim (core/crypto/native/build.sh)
[ -e /usr/include/openssl/evp.h ] || need_pkgs+=(libssl-dev)
# The VM suites run the host's /usr inside the guest: bus tools are the independent side.
command -v i2cget >/dev/null 2>&1 || need_pkgs+=(i2c-tools)
command -v spi-config >/dev/null 2>&1 || need_pkgs+=(spi-tools)
command -v owserver >/dev/null 2>&1 || need_pkgs+=(owserver)
command -v owread >/dev/null 2>&1 || need_pkgs+=(ow-shell)
command -v lsusb >/dev/null 2>&1 || need_pkgs+=(usbutils)
command -v gpioset >/dev/null 2>&1 || need_pkgs+=(gpiod)
# deploy/ and the status page (tests/deploy, tests/status)
command -v systemd-analyze >/dev/null 2>&1 || need_pkgs+=(systemd)
command -v systemd-nspawn >/dev/null 2>&1 || need_pkgs+=(systemd-container)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v buildah >/dev/null 2>&1 || need_pkgs+=(buildah)
command -v podman >/dev/null 2>&1 || need_pkgs+=(podman)
command -v podman-compose >/dev/null 2>&1 || need_pkgs+=(podman-compose)
command -v runc >/dev/null 2>&1 || need_pkgs+=(runc)
command -v slirp4netns >/dev/null 2>&1 || need_pkgs+=(slirp4netns)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
[ -x /usr/sbin/nginx ] || need_pkgs+=(nginx-light)
# promtool (tests/core/metrics_promtool_test.ts); the package's service is not used
command -v promtool >/dev/null 2>&1 || need_pkgs+=(prometheus)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need_pkgs[*]} from Debian" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  # The tests start their own servers on free ports: the packages' default services (nginx on
  # :80, prometheus, nats-server, owserver) must not start on the operator's machine. A
  # policy-rc.d that refuses (exit 101) keeps invoke-rc.d from starting them during the install.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
  apt_rc=$?
  [ -n "$own_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d
  [ "$apt_rc" = 0 ] || { echo "tests/run.sh: apt-get install failed" >&2; exit 1; }
fi
# The frame shim (one FFI call per sealed/opened message); never fails: without it the
# libcrypto back end uses per-call FFI (docs/PROTOCOL.md, "Crypto back ends").
bash core/crypto/native/build.sh
if [ "${MYCLERK_INSTALL_ONLY:-0}" = 1 ]; then
  echo "tests/run.sh: MYCLERK_INSTALL_ONLY=1: packages are in place, no test run" >&2
  exit 0
fi

DENO="${DENO:-deno}"
command -v "$DENO" >/dev/null 2>&1 || DENO="npx -y deno@2.9.6"
out=$(mktemp)
# --parallel off by default: suites start real servers on 2 cores.
# tests/hwvm/ needs the VM's kernel: it runs below, in one VM boot, not on this kernel.
$DENO test --allow-all --no-check=remote --ignore=tests/hwvm "$@" tests/ 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
line=$(sed -E 's/\x1b\[[0-9;]*m//g' "$out" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$line")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$line")
ignored=$(grep -oE '[0-9]+ ignored' <<<"$line" | grep -oE '[0-9]+' || echo 0)
passed=${passed:-0} failed=${failed:-0} ignored=${ignored:-0}

# Real kernel drivers (CAN, I2C, SPI, USB, GPIO, serial; confinement on Debian 6.1): one VM
# boot for every tests/hwvm suite (tests/hwvm/run.sh installs QEMU and the kernel when
# missing). A VM that cannot boot is a failure in CI (MYCLERK_REQUIRE_REAL=1), never a skip.
if [ "${MYCLERK_SKIP_VM:-0}" = 1 ] && [ "${MYCLERK_REQUIRE_REAL:-0}" != 1 ]; then
  echo "tests/run.sh: MYCLERK_SKIP_VM=1: the VM suites are skipped" >&2
  ignored=$((ignored + 1))
else
  [ "${MYCLERK_REQUIRE_REAL:-0}" = 1 ] && export HWVM_TESTMODULES="${HWVM_TESTMODULES:-1}"
  bash tests/hwvm/run.sh 2>&1 | tee "$out"
  vm_rc=${PIPESTATUS[0]}
  vline=$(grep -E '^hwvm: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$out" | tail -1)
  vp=$(sed -E 's/^hwvm: ([0-9]+) passed.*/\1/' <<<"$vline")
  vf=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$vline")
  vs=$(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$vline")
  vp=${vp:-0} vf=${vf:-0} vs=${vs:-0}
  # Exit 2 (no VM tool/packages), 124 (timeout), 125 (VM died): count the suite as failed.
  if [ "$vm_rc" != 0 ] && [ "$vf" = 0 ]; then
    echo "tests/run.sh: the VM suites did not run to the end (exit $vm_rc)" >&2
    vf=1
  fi
  if [ "${MYCLERK_REQUIRE_REAL:-0}" = 1 ] && [ "$vs" != 0 ]; then
    echo "tests/run.sh: $vs VM tests skipped, which CI does not allow" >&2
    vf=$((vf + vs))
  fi
  passed=$((passed + vp)) failed=$((failed + vf)) ignored=$((ignored + vs))
  [ "$vm_rc" != 0 ] && [ "$rc" = 0 ] && rc=$vm_rc
  [ "$vf" != 0 ] && [ "$rc" = 0 ] && rc=1
fi
rm -f "$out"
echo "${passed} passed, ${failed} failed, ${ignored} skipped"
exit $rc
