# shellcheck shell=bash
# Throwaway OpenLDAP server (slapd) for the directory-login tests. Sourced by scripts/test,
# after scripts/_pg.sh (whose _pg_sudo, _apt_update, _apt_install and _free_port it uses).
#
#   ldap_install        install Debian's slapd + ldap-utils when missing (no default database:
#                       the package's own server is never configured nor started)
#   ldap_start          write a slapd.conf (mdb backend, suffix dc=example,dc=org, random rootpw)
#                       into a temp dir, load the test people and groups with slapadd, start slapd
#                       on a free loopback port; exports RISKMAP_TEST_LDAP_URL,
#                       RISKMAP_TEST_LDAP_ADMIN_DN, RISKMAP_TEST_LDAP_ADMIN_PASSWORD,
#                       RISKMAP_TEST_LDAP_BASE and LDAP_TMPDIR
#   ldap_stop           stop slapd and remove its directory (safe to call twice)
#
# The server never runs as root: when we are root it runs as the `openldap` system user (created
# by the Debian package) or, failing that, a `riskmap-ldap` user created here.
#
# The people (passwords are fixed: a loopback-only server that lives as long as the test run;
# tests/auth/test_ldap.py knows them):
#   cmdr          Dilshod Karimov     riskmap-commanders, region-jizzakh
#   planner       Malika Yusupova     riskmap-planners, region-jizzakh, region-samarkand
#   boss          Rustam Aliyev       riskmap-admins, riskmap-commanders (no region: admin)
#   roving        Anvar Roving        riskmap-commanders only (no region group)
#   nogroup       Nodira No-Group     staff (no riskmap group)
#   c*            Wildcard Person     no groups (a '*' in the name must not match cmdr's groups)
#   tosh, a (ops*)  Aziz Toshmatov    riskmap-analysts, region-samarkand (name needs escaping)

LDAP_SUFFIX=dc=example,dc=org
LDAP_ADMIN_DN="cn=admin,$LDAP_SUFFIX"
LDAP_TMPDIR=${LDAP_TMPDIR:-}
LDAP_RUNAS=
LDAP_SBIN=/usr/sbin

_ldap_have() {
    [[ -x $LDAP_SBIN/slapd && -x $LDAP_SBIN/slapadd && -x $LDAP_SBIN/slappasswd ]] \
        && command -v ldapwhoami >/dev/null 2>&1
}

ldap_install() {
    _ldap_have && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "scripts/test: no apt-get; install slapd and ldap-utils yourself" >&2
        return 1
    fi
    echo "scripts/test: installing slapd + ldap-utils from the OS packages" >&2
    # no default database and no system server: we start our own
    echo "slapd slapd/no_configuration boolean true" \
        | _pg_sudo env DEBIAN_FRONTEND=noninteractive debconf-set-selections || true
    _apt_update && _apt_install slapd ldap-utils || true
    _ldap_have || { echo "scripts/test: slapd install failed" >&2; return 1; }
}

_ldap_run() {
    # run a command as the (non-root) server owner, from a directory it can enter
    if [[ -n $LDAP_RUNAS ]]; then
        (cd "$LDAP_TMPDIR" && runuser -u "$LDAP_RUNAS" -- "$@")
    else
        (cd "$LDAP_TMPDIR" && "$@")
    fi
}

_ldap_hash() {
    "$LDAP_SBIN/slappasswd" -h '{SSHA}' -s "$1"
}

_ldap_person() {  # uid-rdn (escaped) uid cn sn password
    cat <<EOF
dn: uid=$1,ou=people,$LDAP_SUFFIX
objectClass: inetOrgPerson
uid: $2
cn: $3
sn: $4
displayName: $3
userPassword: $(_ldap_hash "$5")

EOF
}

_ldap_group() {  # cn member-rdn...
    local cn=$1 p
    shift
    echo "dn: cn=$cn,ou=groups,$LDAP_SUFFIX"
    echo "objectClass: groupOfNames"
    echo "cn: $cn"
    for p in "$@"; do echo "member: uid=$p,ou=people,$LDAP_SUFFIX"; done
    echo
}

_ldap_ldif() {
    # the test people and groups (see the table above)
    cat <<EOF
dn: $LDAP_SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: riskmap test directory

dn: ou=people,$LDAP_SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$LDAP_SUFFIX
objectClass: organizationalUnit
ou: groups

EOF
    _ldap_person cmdr cmdr "Dilshod Karimov" Karimov "Jizzax-Commander-2025"
    _ldap_person planner planner "Malika Yusupova" Yusupova "Planner-Samarqand-77"
    _ldap_person boss boss "Rustam Aliyev" Aliyev "Boss-Toshkent-2025!"
    _ldap_person roving roving "Anvar Roving" Roving "Roving-Commander-42"
    _ldap_person nogroup nogroup "Nodira No-Group" No-Group "Nogroup-Password-11"
    _ldap_person 'c*' 'c*' "Wildcard Person" Person "Wildcard-Password-33"
    _ldap_person 'tosh\, a (ops*)' 'tosh, a (ops*)' "Aziz Toshmatov" Toshmatov \
        "Escaped-Analyst-2025"
    _ldap_group riskmap-admins boss
    _ldap_group riskmap-commanders cmdr boss roving
    _ldap_group riskmap-planners planner
    _ldap_group riskmap-analysts 'tosh\, a (ops*)'
    _ldap_group region-jizzakh cmdr planner
    _ldap_group region-samarkand planner 'tosh\, a (ops*)'
    _ldap_group staff nogroup cmdr
}

_ldap_conf() {
    local rootpw_hash=$1 modules=""
    # Debian builds the backends as modules; a self-built slapd may have mdb built in
    if [[ -e /usr/lib/ldap/back_mdb.so || -e /usr/lib/ldap/back_mdb.la ]]; then
        modules=$'modulepath /usr/lib/ldap\nmoduleload back_mdb'
    fi
    cat <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
$modules
pidfile $LDAP_TMPDIR/slapd.pid
argsfile $LDAP_TMPDIR/slapd.args
loglevel none

database mdb
maxsize 67108864
suffix "$LDAP_SUFFIX"
rootdn "$LDAP_ADMIN_DN"
rootpw $rootpw_hash
directory $LDAP_TMPDIR/db
index objectClass eq
index member eq
index uid eq

# as a real directory would: passwords only for binding, nothing for anonymous
access to attrs=userPassword
    by self =xw
    by anonymous auth
    by * none
access to *
    by users read
    by * none
EOF
}

ldap_start() {
    local port tries rootpw started
    _ldap_have || { echo "scripts/test: no slapd found (run ldap_install)" >&2; return 1; }
    if [[ $(id -u) -eq 0 ]]; then
        if id openldap >/dev/null 2>&1; then
            LDAP_RUNAS=openldap
        else
            id riskmap-ldap >/dev/null 2>&1 \
                || useradd --system --no-create-home --shell /usr/sbin/nologin riskmap-ldap
            LDAP_RUNAS=riskmap-ldap
        fi
    fi
    LDAP_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/riskmap-ldap.XXXXXX")
    chmod 700 "$LDAP_TMPDIR"
    mkdir -p "$LDAP_TMPDIR/db"
    rootpw=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
    _ldap_conf "$(_ldap_hash "$rootpw")" >"$LDAP_TMPDIR/slapd.conf"
    _ldap_ldif >"$LDAP_TMPDIR/people.ldif"
    [[ -n $LDAP_RUNAS ]] && chown -R "$LDAP_RUNAS" "$LDAP_TMPDIR"
    _ldap_run "$LDAP_SBIN/slapadd" -q -f "$LDAP_TMPDIR/slapd.conf" -l "$LDAP_TMPDIR/people.ldif" \
        >"$LDAP_TMPDIR/slapadd.log" 2>&1 || { cat "$LDAP_TMPDIR/slapadd.log" >&2; return 1; }
    started=
    for tries in 1 2 3 4 5; do
        port=$(_free_port)
        # slapd opens its listener before it detaches: a taken port fails here
        if _ldap_run "$LDAP_SBIN/slapd" -f "$LDAP_TMPDIR/slapd.conf" \
            -h "ldap://127.0.0.1:$port/" >>"$LDAP_TMPDIR/slapd.log" 2>&1; then
            for _ in $(seq 50); do
                if ldapwhoami -x -H "ldap://127.0.0.1:$port/" -D "$LDAP_ADMIN_DN" -w "$rootpw" \
                    >/dev/null 2>&1; then
                    started=1
                    break
                fi
                sleep 0.1
            done
            [[ -n $started ]] && break
            _ldap_kill
        fi
        echo "scripts/test: slapd did not start on a port (try $tries); retrying" >&2
    done
    if [[ -z $started ]]; then
        tail -n 30 "$LDAP_TMPDIR/slapd.log" >&2 || true
        return 1
    fi
    export RISKMAP_TEST_LDAP_URL="ldap://127.0.0.1:$port"
    export RISKMAP_TEST_LDAP_ADMIN_DN="$LDAP_ADMIN_DN"
    export RISKMAP_TEST_LDAP_ADMIN_PASSWORD="$rootpw"
    export RISKMAP_TEST_LDAP_BASE="$LDAP_SUFFIX"
    export LDAP_TMPDIR
    echo "scripts/test: LDAP test server on 127.0.0.1:$port (data in $LDAP_TMPDIR)" >&2
}

_ldap_kill() {
    # stop the slapd we started (by its pid file), waiting up to 10 s
    local pid
    [[ -f "$LDAP_TMPDIR/slapd.pid" ]] || return 0
    pid=$(cat "$LDAP_TMPDIR/slapd.pid" 2>/dev/null || true)
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

ldap_stop() {
    [[ -n $LDAP_TMPDIR && -d $LDAP_TMPDIR ]] || return 0
    _ldap_kill
    rm -rf "$LDAP_TMPDIR"
    LDAP_TMPDIR=
}
