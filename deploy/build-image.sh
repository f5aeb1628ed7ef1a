#!/usr/bin/env bash
# Builds the relay's OCI image offline with buildah, from scratch (no base image, so no
# registry): the host's Deno 2.9.6 binary (or one from the npm registry), the glibc and
# libcrypto it links, the app (copied through .containerignore: no .git, data dirs, keys),
# a primed module cache, a non-root user, and a HEALTHCHECK (docker image format: the OCI
# format has no health check field).
#
#   deploy/build-image.sh [--tag localhost/myclerk-relay:0.1.0] [--deno PATH]
#                         [--storage-driver vfs] [--format docker|oci]
#
# Run it:  podman run -d --name relay -p 127.0.0.1:8080:8080 -p 5657:5657 \
#            -v myclerk-relay:/var/lib/myclerk localhost/myclerk-relay:0.1.0
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAG=localhost/myclerk-relay:0.1.0
DENO_BIN=""
DRIVER=${STORAGE_DRIVER:-vfs}
FORMAT=docker
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --deno) DENO_BIN=$2; shift 2 ;;
    --storage-driver) DRIVER=$2; shift 2 ;;
    --format) FORMAT=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
B=(buildah --storage-driver "$DRIVER")
UID_=10001
work=$(mktemp -d)
ctr=""
cleanup() {
  [ -n "$ctr" ] && "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# 1. a root file system staged on disk: deno + its shared libraries + libcrypto
root=$work/root
install -d "$root"/{opt/myclerk/bin,etc/myclerk,tmp,var/lib/myclerk,lib64,lib/x86_64-linux-gnu}
chmod 1777 "$root/tmp"
if [ -n "$DENO_BIN" ]; then
  install -m 0755 "$DENO_BIN" "$root/opt/myclerk/bin/deno"
else
  "$SRC/deploy/install.sh" --prefix "$work/inst" --etc "$work/etc" --no-unit >/dev/null
  install -m 0755 "$work/inst/bin/deno" "$root/opt/myclerk/bin/deno"
fi
[ "$("$root/opt/myclerk/bin/deno" --version | head -1 | cut -d' ' -f2)" = 2.9.6 ] ||
  { echo "build-image.sh: need deno 2.9.6" >&2; exit 1; }
libs=$(ldd "$root/opt/myclerk/bin/deno" | awk '/=> \//{print $3} /^[ \t]*\/lib/{print $1}')
for l in $libs /usr/lib/x86_64-linux-gnu/libcrypto.so.3 /lib/x86_64-linux-gnu/libnss_files.so.2; do
  [ -e "$l" ] || continue
  case "$l" in
    /lib64/*) cp -L "$l" "$root/lib64/" ;;
    *) cp -L "$l" "$root/lib/x86_64-linux-gnu/" ;;
  esac
done
printf 'root:x:0:0:root:/root:/sbin/nologin\nmyclerk:x:%s:%s:MyClerk relay:/var/lib/myclerk:/sbin/nologin\n' $UID_ $UID_ >"$root/etc/passwd"
printf 'root:x:0:\nmyclerk:x:%s:\n' $UID_ >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
install -m 0644 "$SRC/deploy/relay.container.json" "$root/etc/myclerk/relay.json"

# 2. the image: scratch + root fs + app through the ignore file + primed cache
ctr=$("${B[@]}" from --name "myclerk-build-$$" scratch)
"${B[@]}" copy "$ctr" "$root/" / >/dev/null
"${B[@]}" copy --contextdir "$SRC" --ignorefile "$SRC/.containerignore" "$ctr" "$SRC/" /opt/myclerk/app >/dev/null
"${B[@]}" copy "$ctr" "$SRC/deploy/healthcheck.ts" /opt/myclerk/healthcheck.ts >/dev/null
# The cache is primed on the host (same binary, same lock) into a dir copied in: a build
# needs no network, no runtime (`buildah run` would need one) and no base image.
mnt=$("${B[@]}" mount "$ctr")
# `--version` names the commit: the image has no .git (ignore file), so write it down
git -C "$SRC" rev-parse HEAD >"$mnt/opt/myclerk/app/COMMIT" 2>/dev/null || echo unknown >"$mnt/opt/myclerk/app/COMMIT"
DENO_DIR="$mnt/opt/myclerk/deno-dir" DENO_NO_UPDATE_CHECK=1 \
  "$root/opt/myclerk/bin/deno" install --quiet --entrypoint "$mnt/opt/myclerk/app/main.ts" >/dev/null
# transpile every module once (the cache keys on the path: this warms the npm and analysis
# caches; the image's own paths are transpiled at first start, in memory: the cache is read-only)
DENO_DIR="$mnt/opt/myclerk/deno-dir" DENO_NO_UPDATE_CHECK=1 \
  "$root/opt/myclerk/bin/deno" run --cached-only -A "$mnt/opt/myclerk/app/main.ts" --version >/dev/null
chmod -R a+rX,go-w "$mnt/opt/myclerk"
# buildah copy makes everything root-owned: the data dir is the user's (a new volume copies it)
chown "$UID_:$UID_" "$mnt/var/lib/myclerk"
chmod 0700 "$mnt/var/lib/myclerk"
"${B[@]}" umount "$ctr" >/dev/null

DENO_FLAGS="--cached-only --no-prompt --allow-net --allow-env --allow-sys --allow-ffi --allow-read --allow-write=/var/lib/myclerk"
"${B[@]}" config \
  --user "$UID_:$UID_" \
  --workingdir /var/lib/myclerk \
  --env DENO_DIR=/opt/myclerk/deno-dir --env DENO_NO_UPDATE_CHECK=1 --env NO_COLOR=1 \
  --env LD_LIBRARY_PATH=/lib/x86_64-linux-gnu \
  --entrypoint "[\"/opt/myclerk/bin/deno\",\"run\",$(printf '"%s",' $DENO_FLAGS)\"/opt/myclerk/app/main.ts\"]" \
  --cmd '["serve","--role","relay","--config","/etc/myclerk/relay.json"]' \
  --port 5657/tcp --port 8080/tcp \
  --volume /var/lib/myclerk \
  --stop-signal SIGTERM \
  --healthcheck "CMD /opt/myclerk/bin/deno run --cached-only --no-prompt --allow-net=127.0.0.1:8080 --allow-env=MYCLERK_HEALTH_URL /opt/myclerk/healthcheck.ts" \
  --healthcheck-interval 30s --healthcheck-timeout 5s --healthcheck-start-period 10s --healthcheck-retries 3 \
  --label org.opencontainers.image.title=myclerk-relay \
  --label org.opencontainers.image.version=0.1.0 \
  "$ctr"
"${B[@]}" commit --quiet --format "$FORMAT" --rm "$ctr" "$TAG"
ctr=""
echo "built $TAG ($("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$TAG" 2>/dev/null | cut -c1-12))"
