#!/usr/bin/env bash
# Bring up a local PostgreSQL 15 on this (Debian, root) machine, for the ecg_vision Optuna-on-a-server tests.
# Loopback only (127.0.0.1), a throwaway user and database; idempotent: installs what is missing, starts the
# cluster if it is down, (re)creates nothing that is already there (but sets the user's password to PG_PASSWORD, so the
# printed URL always logs in). Prints the URL `ecgv_search --storage` takes (postgresql://USER:PASSWORD@127.0.0.1:PORT/DB),
# and only that, on stdout (everything else goes to stderr: pg_ctlcluster says e.g. "Removed stale pid file." on stdout).
# The default password is distinctive on purpose: tests/test_pg_search.py checks that no output of a search holds it.
# Usage: sudo .ci/pg_up.sh        env: PG_VERSION (15), PG_PORT (5432), PG_USER (ecgv), PG_PASSWORD (ecgv-pg-s3cret:
#        letters, digits, '.', '_', '-'), PG_DB (ecgv_optuna)
set -uo pipefail

VER="${PG_VERSION:-15}"; PORT="${PG_PORT:-5432}"
USER_="${PG_USER:-ecgv}"; PASS="${PG_PASSWORD:-ecgv-pg-s3cret}"; DB="${PG_DB:-ecgv_optuna}"
CLUSTER=main
log() { echo "[pg_up] $*" >&2; }
die() { log "FAILED: $*"; tail -n 30 "/var/log/postgresql/postgresql-$VER-$CLUSTER.log" >&2 2>/dev/null; exit 1; }

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
[[ "$PASS" =~ ^[A-Za-z0-9._-]+$ && "$USER_" =~ ^[a-z_][a-z0-9_]*$ && "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] \
  || { log "PG_USER/PG_DB: lower-case letters, digits, _; PG_PASSWORD: letters, digits, . _ - (they go into SQL and a URL)"; exit 1; }

# 1. install (Debian's postgresql-15 creates and configures the cluster 15/main)
if ! command -v pg_ctlcluster >/dev/null || [ ! -x "/usr/lib/postgresql/$VER/bin/postgres" ]; then
  log "installing postgresql-$VER"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "postgresql-$VER" postgresql-client >/dev/null || die "apt-get install failed"
fi
pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$VER/$CLUSTER" || pg_createcluster "$VER" "$CLUSTER" -p "$PORT" >/dev/null \
  || die "pg_createcluster failed"

# 2. loopback only, on the port asked
CONF="/etc/postgresql/$VER/$CLUSTER/postgresql.conf"
set_conf() { grep -qE "^$1 = $2\$" "$CONF" || { sed -i -E "/^#?\s*$1\s*=/d" "$CONF"; echo "$1 = $2" >> "$CONF"; }; }
set_conf listen_addresses "'127.0.0.1'"
set_conf port "$PORT"
set_conf max_connections 200   # every Optuna worker holds a small connection pool

# 3. start (or restart if the settings changed while it ran)
st="$(pg_lsclusters -h | awk -v v="$VER" -v c="$CLUSTER" '$1==v && $2==c {print $4}')"
if [ "$st" = online ]; then
  runuser -u postgres -- psql -p "$PORT" -tAc "SHOW listen_addresses" 2>/dev/null | grep -qx 127.0.0.1 \
    || pg_ctlcluster "$VER" "$CLUSTER" restart >&2 || die "restart failed"
else
  pg_ctlcluster "$VER" "$CLUSTER" start >&2 || die "pg_ctlcluster start failed"
fi
for _ in $(seq 50); do runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.2; done
runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p "$PORT" || die "server not accepting connections on 127.0.0.1:$PORT"

# 4. throwaway user and database (password auth over TCP: Debian's pg_hba has scram for 127.0.0.1/32)
psql_() { runuser -u postgres -- psql -p "$PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }   # stdout: query results only
[ "$(psql_ -c "SELECT 1 FROM pg_roles WHERE rolname='$USER_'")" = 1 ] \
  || psql_ -c "CREATE ROLE $USER_ LOGIN CREATEDB" >&2 || die "create role failed"
psql_ -c "ALTER ROLE $USER_ PASSWORD '$PASS'" >&2 || die "setting the password of $USER_ failed"
[ "$(psql_ -c "SELECT 1 FROM pg_database WHERE datname='$DB'")" = 1 ] \
  || psql_ -c "CREATE DATABASE $DB OWNER $USER_" >&2 || die "create database failed"

URL="postgresql://$USER_:$PASS@127.0.0.1:$PORT/$DB"
PGPASSWORD="$PASS" psql -h 127.0.0.1 -p "$PORT" -U "$USER_" -d "$DB" -qtAc "SELECT 1" >/dev/null || die "cannot log in as $USER_"
log "PostgreSQL $VER up on 127.0.0.1:$PORT, database $DB"
echo "$URL"
