#!/usr/bin/env bash
# Builds the optional frame shim (frame.c) next to this script:
# core/crypto/native/libmyclerk_frame.so. Needs a C compiler and the OpenSSL 3
# headers (Debian: libssl-dev). Never fails the caller: without the shim the
# libcrypto back end uses its per-primitive FFI path (docs/PROTOCOL.md,
# "Crypto back ends"). Prints one line saying which.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/libmyclerk_frame.so"
cc="${CC:-cc}"
tmp="$out.tmp.$$"
if "$cc" -O2 -fPIC -shared -Wall -Werror -o "$tmp" "$here/frame.c" -lcrypto 2>"$tmp.err"; then
  mv -f "$tmp" "$out"
  rm -f "$tmp.err"
  echo "core/crypto/native: built $out" >&2
else
  echo "core/crypto/native: frame shim not built (libcrypto back end uses per-call FFI):" >&2
  sed -n 1,5p "$tmp.err" >&2
  rm -f "$tmp" "$tmp.err"
fi
exit 0
