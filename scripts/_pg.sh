# shellcheck shell=bash
# Throwaway PostgreSQL + PostGIS cluster for the tests. Sourced by scripts/test.
#
#   pg_install          install PostgreSQL + PostGIS from the OS packages when missing
#   pg_start            initdb into a temp dir, start on a free loopback port, create riskmap_test
#                       with PostGIS; exports RISKMAP_TEST_POSTGIS_URL and PG_TMPDIR
#   pg_stop             stop the cluster and remove its directory (safe to call twice)
#
# The server never runs as root: when we are root it runs as the `postgres` system user (created
# by the Debian package) or, failing that, a `riskmap-pg` user created here.

PG_DB=${PG_DB:-riskmap_test}
PG_SUPERUSER=riskmap
PG_PASSWORD=riskmap      # throwaway cluster, loopback only, trust auth
PG_TMPDIR=${PG_TMPDIR:-}
PG_RUNAS=

_pg_sudo() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

_pg_bindir() {
    # newest /usr/lib/postgresql/NN/bin that has initdb, else pg_config --bindir
    local d best=""
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
        [[ -x "$d/initdb" ]] && best=$d
    done
    if [[ -z $best ]] && command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        [[ -n $d && -x "$d/initdb" ]] && best=$d
    fi
    echo "$best"
}

_pg_major() {
    local bindir=$1
    basename "$(dirname "$bindir")"
}

_pg_has_postgis() {
    local major=$1
    ls /usr/share/postgresql/"$major"/extension/postgis.control >/dev/null 2>&1
}

_apt_install() {
    # quiet, non-interactive, keep our createcluster.conf
    _pg_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confold -o Dpkg::Use-Pty=0 "$@" >/dev/null
}

_apt_updated=0
_apt_update() {
    if [[ $_apt_updated -eq 0 ]]; then
        _pg_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        _apt_updated=1
    fi
}

pg_install() {
    local bindir major
    bindir=$(_pg_bindir)
    if [[ -z $bindir ]]; then
        echo "scripts/test: installing PostgreSQL from the OS packages" >&2
        # no default cluster on port 5432: we start our own
        if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
            _pg_sudo mkdir -p /etc/postgresql-common
            echo "create_main_cluster = false" | _pg_sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
        fi
        _apt_update
        _apt_install postgresql
        bindir=$(_pg_bindir)
        [[ -n $bindir ]] || { echo "scripts/test: PostgreSQL install failed" >&2; return 1; }
    fi
    major=$(_pg_major "$bindir")
    if ! _pg_has_postgis "$major"; then
        echo "scripts/test: installing PostGIS for PostgreSQL $major" >&2
        _apt_update
        _apt_install "postgresql-$major-postgis-3"
        _pg_has_postgis "$major" || { echo "scripts/test: PostGIS install failed" >&2; return 1; }
    fi
}

browser_install() {
    # Debian's chromium + chromedriver, for the app's browser tests; poppler-utils' pdftotext
    # reads back the review pack's PDF (tests/test_cli_review.py); fonts-dejavu-core is the
    # font the maps' label glyphs are built from (app/glyphs.py)
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
            && command -v pdftotext >/dev/null 2>&1 \
            && [[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "scripts/test: no apt-get; install chromium and chromedriver yourself" >&2
        return 1
    fi
    echo "scripts/test: installing chromium + chromium-driver + poppler-utils + fonts-dejavu-core from the OS packages" >&2
    _apt_update
    _apt_install chromium chromium-driver poppler-utils fonts-dejavu-core
}

_pg_run() {
    # run a command as the (non-root) cluster owner, from a directory it can enter
    if [[ -n $PG_RUNAS ]]; then
        (cd "$PG_TMPDIR" && runuser -u "$PG_RUNAS" -- "$@")
    else
        (cd "$PG_TMPDIR" && "$@")
    fi
}

_free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

pg_start() {
    local bindir port tries
    bindir=$(_pg_bindir)
    [[ -n $bindir ]] || { echo "scripts/test: no PostgreSQL found (run pg_install)" >&2; return 1; }
    if [[ $(id -u) -eq 0 ]]; then
        if id postgres >/dev/null 2>&1; then
            PG_RUNAS=postgres
        else
            id riskmap-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin riskmap-pg
            PG_RUNAS=riskmap-pg
        fi
    fi
    PG_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/riskmap-pg.XXXXXX")
    chmod 700 "$PG_TMPDIR"
    [[ -n $PG_RUNAS ]] && chown "$PG_RUNAS" "$PG_TMPDIR"
    _pg_run "$bindir/initdb" -D "$PG_TMPDIR/data" -U "$PG_SUPERUSER" --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$PG_TMPDIR/initdb.log" 2>&1 \
        || _pg_run "$bindir/initdb" -D "$PG_TMPDIR/data" -U "$PG_SUPERUSER" --auth=trust \
            --encoding=UTF8 --no-locale >"$PG_TMPDIR/initdb.log" 2>&1 \
        || { cat "$PG_TMPDIR/initdb.log" >&2; return 1; }
    for tries in 1 2 3 4 5; do
        port=$(_free_port)
        if _pg_run "$bindir/pg_ctl" -D "$PG_TMPDIR/data" -l "$PG_TMPDIR/server.log" -w -t 60 \
            -o "-p $port -k $PG_TMPDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null 2>&1; then
            break
        fi
        port=
        echo "scripts/test: PostgreSQL did not start on a port (try $tries); retrying" >&2
    done
    if [[ -z $port ]]; then
        tail -n 30 "$PG_TMPDIR/server.log" >&2 || true
        return 1
    fi
    PG_PORT=$port
    _pg_run "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" "$PG_DB"
    _pg_run "$bindir/psql" -q -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" -d "$PG_DB" \
        -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    export RISKMAP_TEST_POSTGIS_URL="postgresql+psycopg://$PG_SUPERUSER:$PG_PASSWORD@127.0.0.1:$port/$PG_DB"
    export PG_TMPDIR PG_PORT
    echo "scripts/test: PostGIS test cluster on 127.0.0.1:$port (data in $PG_TMPDIR)" >&2
}

pg_stop() {
    local bindir
    [[ -n $PG_TMPDIR && -d $PG_TMPDIR ]] || return 0
    bindir=$(_pg_bindir)
    if [[ -f "$PG_TMPDIR/data/postmaster.pid" ]]; then
        _pg_run "$bindir/pg_ctl" -D "$PG_TMPDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_TMPDIR"
    PG_TMPDIR=
}
