#!/usr/bin/env bash
# pg_cluster.sh start|stop STATE_DIR PORT — a throwaway PostgreSQL cluster for the storage tests.
#
# start: initdb into a fresh temporary directory, start the server on 127.0.0.1:PORT (unix socket in the same
#        directory) with test-only fast settings (fsync=off), and write its URL to STATE_DIR/url. The role "bbo"
#        logs in without a password, database "postgres". When no PostgreSQL server binaries are installed it
#        prints why and exits 0 without writing a URL, so the tests skip; any other failure exits non-zero.
# stop:  stops that server and removes its directory.
# As root, the server runs as the "postgres" user (or "nobody"), since PostgreSQL refuses to run as root.
set -euo pipefail

action=${1:?usage: pg_cluster.sh start|stop STATE_DIR PORT}
state=${2:?usage: pg_cluster.sh start|stop STATE_DIR PORT}
port=${3:?usage: pg_cluster.sh start|stop STATE_DIR PORT}

find_bindir() {
  if [[ -n "${PG_BINDIR:-}" && -x "$PG_BINDIR/initdb" ]]; then echo "$PG_BINDIR"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

owner=postgres
id -u postgres >/dev/null 2>&1 || owner=nobody

case "$action" in
  start)
    mkdir -p "$state"
    rm -f "$state/url"
    # A cluster left over from an interrupted run is stopped first.
    if [[ -f "$state/datadir" ]]; then "$0" stop "$state" "$port" || true; fi
    bindir=$(find_bindir)
    if [[ -z "$bindir" ]]; then
      echo "pg_cluster.sh: no PostgreSQL server found (initdb); the PostgreSQL tests will skip." \
           "Install it with: apt-get install postgresql" >&2
      exit 0
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/bbo_pg_XXXXXX")
    echo "$dir" > "$state/datadir"
    chmod 755 "$dir"
    [[ $(id -u) -eq 0 ]] && chown "$owner" "$dir"
    as_owner "$bindir/initdb" -D "$dir/data" -U bbo --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2; exit 1; }
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
      echo "pg_cluster.sh: the server did not start on port $port:" >&2
      cat "$dir/server.log" >&2 || true
      exit 1
    fi
    echo "postgresql://bbo@127.0.0.1:$port/postgres" > "$state/url"
    echo "pg_cluster.sh: PostgreSQL running at postgresql://bbo@127.0.0.1:$port/postgres (data in $dir)"
    ;;
  stop)
    [[ -f "$state/datadir" ]] || exit 0
    dir=$(cat "$state/datadir")
    bindir=$(find_bindir)
    if [[ -n "$bindir" && -d "$dir/data" ]]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    case "$dir" in */bbo_pg_*) rm -rf "$dir" ;; esac
    rm -f "$state/datadir" "$state/url"
    ;;
  *)
    echo "usage: pg_cluster.sh start|stop STATE_DIR PORT" >&2
    exit 2
    ;;
esac
