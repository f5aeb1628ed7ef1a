#!/usr/bin/env bash
# Installs a MyClerk relay for systemd (docs/OPERATOR.md, "Deploy"):
#   PREFIX/bin/deno        pinned Deno 2.9.6 from the npm registry package
#                          @deno/linux-{x64,arm64}-glibc (npm checks its integrity hash)
#   PREFIX/app/            the application (main.ts and its modules, docs)
#   PREFIX/deno-dir/       primed DENO_DIR: npm modules + transpiled code (a start needs no network)
#   ETC/relay.json         example config (kept if present)
#   UNIT_DIR/myclerk.service
#
#   deploy/install.sh [--prefix /opt/myclerk] [--etc /etc/myclerk]
#                     [--unit-dir /etc/systemd/system | --no-unit] [--deno /path/to/deno]
#
# --deno copies an existing deno 2.9.6 binary instead of downloading it (offline installs).
# Then: systemctl daemon-reload && systemctl enable --now myclerk
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/myclerk
ETC=/etc/myclerk
UNIT_DIR=/etc/systemd/system
DENO_SRC=""
DENO_VERSION=2.9.6
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --etc) ETC=$2; shift 2 ;;
    --unit-dir) UNIT_DIR=$2; shift 2 ;;
    --no-unit) UNIT_DIR=""; shift ;;
    --deno) DENO_SRC=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$PREFIX" in /*) ;; *) echo "install.sh: --prefix must be absolute" >&2; exit 2 ;; esac

install -d -m 0755 "$PREFIX" "$PREFIX/bin" "$PREFIX/app" "$PREFIX/deno-dir"
if [ -n "$DENO_SRC" ]; then
  install -m 0755 "$DENO_SRC" "$PREFIX/bin/deno.new"
else
  case "$(uname -m)" in
    x86_64) pkg=@deno/linux-x64-glibc ;;
    aarch64) pkg=@deno/linux-arm64-glibc ;;
    *) echo "install.sh: no Deno npm package for $(uname -m)" >&2; exit 1 ;;
  esac
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg@$DENO_VERSION" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/deno
  install -m 0755 "$tmp/package/deno" "$PREFIX/bin/deno.new"
fi
got=$("$PREFIX/bin/deno.new" --version | head -1 | cut -d' ' -f2)
if [ "$got" != "$DENO_VERSION" ]; then
  echo "install.sh: $DENO_SRC is deno $got, want $DENO_VERSION" >&2
  rm -f "$PREFIX/bin/deno.new"
  exit 1
fi
mv -f "$PREFIX/bin/deno.new" "$PREFIX/bin/deno"

# The app: only what runs (no .git, tests, benches, data dirs or keys). A new top-level module
# missing here makes the `--version` run below fail, so the install stops instead of shipping it.
rm -rf "$PREFIX/app.new"
install -d -m 0755 "$PREFIX/app.new"
(cd "$SRC" && tar -cf - --exclude='*_test.ts' --exclude='node_modules' \
  main.ts deno.json deno.lock core federation plugins hardware status ops docs README.md) |
  tar -xf - -C "$PREFIX/app.new"
# The commit `--version` prints (the installed app has no .git; core/cli/version.ts reads this).
git -C "$SRC" rev-parse HEAD >"$PREFIX/app.new/COMMIT" 2>/dev/null || echo unknown >"$PREFIX/app.new/COMMIT"
rm -rf "$PREFIX/app.old"
[ -d "$PREFIX/app" ] && mv "$PREFIX/app" "$PREFIX/app.old"
mv "$PREFIX/app.new" "$PREFIX/app"
rm -rf "$PREFIX/app.old"

# Prime the cache: npm packages, then one run that transpiles every module (the service
# user cannot write here; ProtectSystem=strict makes it read-only anyway).
export DENO_DIR="$PREFIX/deno-dir" DENO_NO_UPDATE_CHECK=1
"$PREFIX/bin/deno" install --quiet --entrypoint "$PREFIX/app/main.ts" >/dev/null
"$PREFIX/bin/deno" run --cached-only -A "$PREFIX/app/main.ts" --version >/dev/null
chmod -R a+rX,go-w "$PREFIX"

install -d -m 0755 "$ETC"
if [ ! -e "$ETC/relay.json" ]; then
  cp "$SRC/deploy/relay.example.json" "$ETC/relay.json"
  chmod 0644 "$ETC/relay.json"
fi
if [ -n "$UNIT_DIR" ]; then
  install -d -m 0755 "$UNIT_DIR"
  sed "s#/opt/myclerk#$PREFIX#g; s#/etc/myclerk/#$ETC/#g" "$SRC/deploy/myclerk.service" \
    >"$UNIT_DIR/myclerk.service"
  chmod 0644 "$UNIT_DIR/myclerk.service"
fi
echo "installed deno $got and $(cd "$PREFIX/app" && "$PREFIX/bin/deno" run --cached-only -A main.ts --version) in $PREFIX"
[ -n "$UNIT_DIR" ] && echo "next: systemctl daemon-reload && systemctl enable --now myclerk"
exit 0
