#!/bin/sh
# Start PostgreSQL + PostGIS (the image of containers/postgis/Containerfile). On an empty data
# folder it first creates the cluster like the postgis/postgis image does:
#   POSTGRES_PASSWORD  the superuser's password (required; no default)
#   POSTGRES_USER      the superuser (default postgres)
#   POSTGRES_DB        a database with the postgis extension (default: POSTGRES_USER)
# Clients from other containers log in with a password (scram-sha-256); only processes inside
# this container reach the local socket. Extra arguments go to postgres (`-c name=value`).
set -eu
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
shift
: "${PGDATA:=/var/lib/postgresql/data}"
socket=/var/run/postgresql

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "riskmap-postgis: set POSTGRES_PASSWORD (there is no default)" >&2
        exit 1
    fi
    user=${POSTGRES_USER:-postgres}
    db=${POSTGRES_DB:-$user}
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    printf '%s\n' "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -k $socket" -l "$PGDATA/init.log" start >/dev/null
    if [ "$db" != postgres ]; then
        createdb -h "$socket" -U "$user" "$db"
    fi
    psql -q -h "$socket" -U "$user" -d "$db" -v ON_ERROR_STOP=1 \
        -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    rm -f "$PGDATA/init.log"
    echo "riskmap-postgis: created the cluster with database $db (PostGIS) for $user" >&2
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -k "$socket" "$@"
