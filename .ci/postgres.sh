#!/usr/bin/env bash
# Start a throw-away PostgreSQL for the test suite and print its URL.
# Installs Debian's postgresql when it is missing (CI runs as root on a fresh machine).
# Usage: eval "$(bash .ci/postgres.sh)"   -> exports TEST_DATABASE_URL
set -euo pipefail
port="${PGPORT_TEST:-54329}"
dir="${PGDATA_TEST:-/tmp/ghapp-pg-$port}"

pg_bin=""
for candidate in /usr/lib/postgresql/*/bin; do
  [ -x "$candidate/initdb" ] && pg_bin="$candidate"
done
if [ -z "$pg_bin" ]; then
  echo "installing postgresql from apt" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/initdb" ] && pg_bin="$candidate"
  done
fi
[ -n "$pg_bin" ] || { echo "no PostgreSQL binaries found after install" >&2; exit 1; }

run_as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if ! run_as_postgres "$pg_bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = "0" ] && chown postgres: "$dir"
    run_as_postgres "$pg_bin/initdb" -D "$dir" -U postgres -A trust >/dev/null
  fi
  run_as_postgres "$pg_bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
fi
"$pg_bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='ghapp_test'" | grep -q 1 \
  || "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres ghapp_test
echo "export TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$port/ghapp_test"
