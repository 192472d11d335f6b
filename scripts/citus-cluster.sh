#!/usr/bin/env bash
# A local Citus cluster for tests and benchmarks: a coordinator and two workers, each an
# ordinary PostgreSQL data directory on its own port under one folder.
#
#   scripts/citus-cluster.sh start    initdb (first time), start, register the workers
#   scripts/citus-cluster.sh stop     stop the three servers (the data stays)
#   scripts/citus-cluster.sh status   exit 0 when all three answer
#   scripts/citus-cluster.sh destroy  stop and remove the folder
#   scripts/citus-cluster.sh url      print the coordinator's database URL
#
# TOKENMALL_CITUS_DIR (default /tmp/tokenmall-citus), TOKENMALL_CITUS_PORT (the coordinator's
# port, default 9700; the workers take the next two) and TOKENMALL_PG_BIN
# (/usr/lib/postgresql/15/bin) change where. The database `tokenmall` on the coordinator has
# the extension and the workers registered. The servers never run as root: under root they
# run as the `postgres` user.
set -euo pipefail
dir="${TOKENMALL_CITUS_DIR:-/tmp/tokenmall-citus}"
port="${TOKENMALL_CITUS_PORT:-9700}"
bin="${TOKENMALL_PG_BIN:-/usr/lib/postgresql/15/bin}"
db=tokenmall
ports=("$port" "$((port + 1))" "$((port + 2))")
names=(coordinator worker1 worker2)

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

psql_at() {  # port, database, SQL
  as_owner "$bin/psql" -h 127.0.0.1 -p "$1" -U postgres -d "$2" -v ON_ERROR_STOP=1 -qAt -c "$3"
}

running() {  # data directory
  as_owner "$bin/pg_ctl" -D "$1" status >/dev/null 2>&1
}

init_node() {  # name, port
  local data="$dir/$1"
  [ -f "$data/PG_VERSION" ] && return 0
  as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/$1.initdb.log" 2>&1 || { cat "$dir/$1.initdb.log" >&2; return 1; }
  cat >>"$data/postgresql.conf" <<CONF
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 200
shared_buffers = 64MB
citus.max_client_connections = 150
CONF
}

start() {
  if [ ! -f "$bin/../lib/citus.so" ] && [ ! -f "$("$bin/pg_config" --pkglibdir)/citus.so" ]; then
    echo "citus-cluster: Citus is not installed; run scripts/citus-build.sh first" >&2
    exit 1
  fi
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  local i
  for i in 0 1 2; do
    init_node "${names[$i]}" "${ports[$i]}"
    if ! running "$dir/${names[$i]}"; then
      as_owner "$bin/pg_ctl" -D "$dir/${names[$i]}" -l "$dir/${names[$i]}.log" -w -t 60 start \
        >/dev/null || { tail -n 20 "$dir/${names[$i]}.log" >&2; exit 1; }
    fi
  done
  for i in 0 1 2; do
    if [ "$(psql_at "${ports[$i]}" postgres "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
      psql_at "${ports[$i]}" postgres "CREATE DATABASE $db"
    fi
    psql_at "${ports[$i]}" "$db" "CREATE EXTENSION IF NOT EXISTS citus"
  done
  psql_at "$port" "$db" "SELECT citus_set_coordinator_host('127.0.0.1', $port)" >/dev/null
  for i in 1 2; do
    psql_at "$port" "$db" "SELECT citus_add_node('127.0.0.1', ${ports[$i]})
      WHERE NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE nodeport = ${ports[$i]})" >/dev/null
  done
}

stop() {
  local i
  for i in 2 1 0; do
    if [ -d "$dir/${names[$i]}" ] && running "$dir/${names[$i]}"; then
      as_owner "$bin/pg_ctl" -D "$dir/${names[$i]}" -m fast -w stop >/dev/null
    fi
  done
}

status() {
  local i ok=0
  for i in 0 1 2; do
    if [ -d "$dir/${names[$i]}" ] && running "$dir/${names[$i]}"; then
      echo "${names[$i]} 127.0.0.1:${ports[$i]} running"
    else
      echo "${names[$i]} 127.0.0.1:${ports[$i]} stopped"
      ok=1
    fi
  done
  return "$ok"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  destroy) stop; rm -rf "$dir" ;;
  url) echo "postgresql+psycopg://postgres@127.0.0.1:$port/$db" ;;
  *) echo "usage: $0 start|stop|status|destroy|url" >&2; exit 2 ;;
esac
