#!/usr/bin/env bash
# Installs the programs the tests start, from Debian's packages, when they
# are missing. Run as root (CI) or with sudo available.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
# The store tests start their own PostgreSQL with initdb and postgres, which
# Debian keeps off PATH, under pg_config --bindir or /usr/lib/postgresql/<ver>/bin
# (libpq-dev's pg_config answers without them, so look for the programs).
have_postgres() {
  local bin
  bin="$(pg_config --bindir 2>/dev/null || true)"
  if [ -n "$bin" ] && [ -x "$bin/initdb" ] && [ -x "$bin/postgres" ]; then return 0; fi
  for bin in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin/initdb" ] && [ -x "$bin/postgres" ]; then return 0; fi
  done
  return 1
}
have_postgres || need+=(postgresql)
# make test checks the k6 scripts' syntax with node.
command -v node >/dev/null || need+=(nodejs)
# The browser tests drive Debian's chromium; the emoji font makes screenshots honest.
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${need[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
