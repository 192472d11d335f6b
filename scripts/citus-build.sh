#!/usr/bin/env bash
# Build and install Citus from the vendored source when PostgreSQL does not have it yet.
#
# Idempotent: exits at once when citus.so is already in PostgreSQL's lib directory. Quiet on
# success; on failure it prints the build log's tail. The vendored tarball is found under
# ../shared/vendor from the checkout root (of the main checkout, for a git worktree), or in
# TOKENMALL_VENDOR_DIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="${TOKENMALL_VENDOR_DIR:-$root/../shared/vendor}"
if [ -z "${TOKENMALL_VENDOR_DIR:-}" ] && [ ! -d "$vendor" ]; then
  # A git worktree sits elsewhere: ../shared is then beside the main checkout.
  common="$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
  [ -n "$common" ] && vendor="$(dirname "$common")/../shared/vendor"
fi
pg_bin="${TOKENMALL_PG_BIN:-/usr/lib/postgresql/15/bin}"
version=13.2.2

pg_config="$pg_bin/pg_config"
[ -x "$pg_config" ] || pg_config="$(command -v pg_config || true)"
if [ -n "$pg_config" ] && [ -x "$pg_config" ] \
  && [ -f "$("$pg_config" --pkglibdir)/citus.so" ]; then
  exit 0
fi

tarball="$vendor/citus-$version.tar.gz"
patchfile="$vendor/citus-$version-pg15-have_createdb_privilege.patch"
if [ ! -f "$tarball" ]; then
  echo "citus-build: $tarball not found; set TOKENMALL_VENDOR_DIR to the folder holding it" >&2
  exit 1
fi

log="$(mktemp -t citus-build.XXXXXX.log)"
fail() {
  echo "citus-build: $1 (log: $log)" >&2
  tail -n 30 "$log" >&2
  exit 1
}

deps=(postgresql-server-dev-15 libcurl4-openssl-dev liblz4-dev libzstd-dev libssl-dev
  libkrb5-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev flex bison make gcc)
missing=()
for p in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  { "${sudo[@]}" apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; } \
    >>"$log" 2>&1 || fail "could not install the build dependencies: ${missing[*]}"
fi
pg_config="$pg_bin/pg_config"
[ -x "$pg_config" ] || pg_config="$(command -v pg_config)"

src="$(mktemp -d -t citus-src.XXXXXX)"
trap 'rm -rf "$src"' EXIT
tar -xzf "$tarball" -C "$src" || fail "could not unpack $tarball"
cd "$src"
# The tarball may or may not wrap the tree in a citus-<version> folder.
[ -f configure ] || cd "$src"/citus-*
if [ -f "$patchfile" ]; then
  patch -p1 <"$patchfile" >>"$log" 2>&1 || fail "the patch did not apply"
fi
{ ./configure --without-libcurl PG_CONFIG="$pg_config" \
  && make -j"$(nproc)" && make install; } >>"$log" 2>&1 || fail "the build failed"
rm -f "$log"
