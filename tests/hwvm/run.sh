#!/usr/bin/env bash
# Real-kernel checks: boots the hwvm VM (Debian 6.1 kernel under QEMU, with vcan0,
# i2c-stub, a USB gadget on dummy_hcd giving /dev/ttyACM0 <-> /dev/ttyGS0, a GPIO
# test chip and an SPI loopback spidev) once, runs `deno test -A tests/hwvm/` inside
# it and exits with deno test's exit code (124 timeout, 125 VM died: see hwvm README).
#
#   bash tests/hwvm/run.sh [deno test args...]      (deno task test:hw)
#
# Env: HWVM_TOOL (default ../shared/tools/hwvm/run-in-vm.sh from the repo root), HWVM_TIMEOUT (default
# 1500 s: all VM suites took 15.5 min under TCG on 2 loaded cores; CI stays under 60), and the tool's own HWVM_* variables.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if [ "${1:-}" = --inner ]; then
  # Inside the VM (root, host / read-only under a tmpfs overlay, no network).
  # $2 is the host's deno cache: it holds the npm packages and the VM has no network
  # (the VM passes no host env through). Writes to it land in the overlay and vanish.
  export DENO_DIR="$2"
  tests="$3"
  shift 3
  cd "$REPO" || exit 1
  # A checkout under /tmp, /run or /dev/shm (as CI may use) reaches the guest as a direct 9p
  # share, whose inodes are not stable across lookups: Landlock's path rules (which tag
  # inodes) then deny the confined plugins their own runtime code. Run from a copy in the
  # guest's overlay instead (the host's / is shared through an overlay, which works).
  # (statfs reports the host's filesystem through 9p, so ask the mount table.)
  if [ "$(findmnt -n -o FSTYPE --target "$REPO" 2>/dev/null)" = 9p ]; then
    echo "== $REPO is a 9p share: running from a copy in the guest (Landlock needs stable inodes)"
    mkdir -p /var/tmp/myclerk-repo
    tar -C "$REPO" --exclude=./.git -cf - . | tar -C /var/tmp/myclerk-repo -xf - || exit 1
    cd /var/tmp/myclerk-repo || exit 1
  fi
  export NO_COLOR=1
  # usbmon lets serial_vm_test see the CDC-ACM control requests on the wire.
  modprobe usbmon 2>/dev/null || echo "run.sh: modprobe usbmon failed" >&2
  mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
  echo "== in VM: $(uname -r), deno $(deno --version | head -1 | cut -d' ' -f2)"
  echo "== lsusb: $(lsusb 2>/dev/null | grep 1d6b:0104)"
  # --no-check: type-checking under TCG costs ~35 s; `deno task check` covers tests/hwvm on the host.
  # $3 (HWVM_TESTS on the host) narrows the run to some files; CI runs the whole folder.
  # shellcheck disable=SC2086
  deno test -A --no-check "$@" $tests
  exit $?
fi

# The tool lives beside the repository (../shared/tools/hwvm from the repo root).
TOOL="${HWVM_TOOL:-$REPO/../shared/tools/hwvm/run-in-vm.sh}"
if [ ! -x "$TOOL" ]; then
  echo "run.sh: hwvm tool not found at $TOOL (set HWVM_TOOL)" >&2
  exit 2
fi
if ! command -v qemu-system-x86_64 >/dev/null 2>&1 || ! ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1; then
  echo "run.sh: hwvm host packages missing, running $TOOL --setup" >&2
  "$TOOL" --setup >&2 || exit 2
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
cd "$REPO" || exit 1
HWVM_TIMEOUT="${HWVM_TIMEOUT:-1500}" HWVM_VERBOSE="${HWVM_VERBOSE:-1}" \
  "$TOOL" bash "$REPO/tests/hwvm/run.sh" --inner "${DENO_DIR:-$HOME/.cache/deno}" "${HWVM_TESTS:-tests/hwvm/}" "$@" 2>&1 |
  tee "$out"
rc=${PIPESTATUS[0]}
line=$(sed -E 's/\x1b\[[0-9;]*m//g' "$out" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$line")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$line")
ignored=$(grep -oE '[0-9]+ ignored' <<<"$line" | grep -oE '[0-9]+' || echo 0)
echo "hwvm: ${passed:-0} passed, ${failed:-0} failed, ${ignored:-0} skipped (exit $rc)"
exit "$rc"
