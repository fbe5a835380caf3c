# shellcheck shell=bash
# Shared by scripts/bundle and scripts/test-containers: the container engine, the base images
# (pulled, or built from Debian packages with debootstrap when no registry answers) and the
# PostGIS image. Source it after setting ROOT (the repository) and CT_PROG (the script's name).
#
# Settings (environment):
#   RISKMAP_CONTAINER_ENGINE   podman (default when installed) or docker
#   RISKMAP_CT_RUNTIME         OCI runtime for podman (default: runc when installed; "default"
#                              leaves podman's own choice)
#   RISKMAP_CT_ULIMITS         ulimits for podman run/build (default: nofile and nproc at most
#                              the machine's hard limits; "none" passes none)
#   RISKMAP_CT_PULL            1 (default): try the registry images first; 0: never pull
#   RISKMAP_BASE_IMAGE         base of the app image (default: docker.io/library/python:
#                              3.11-slim-bookworm, else a debootstrap-built Debian + python3)
#   RISKMAP_POSTGIS_BASE       PostGIS image to tag as the bundle's (default: docker.io/postgis/
#                              postgis:15-3.4, else one built from Debian's PostgreSQL + PostGIS)
#   RISKMAP_DEBIAN_SUITE       Debian release of the built bases (default bookworm: Python 3.11)
#   RISKMAP_DEBIAN_MIRROR      Debian mirror for debootstrap (default: this machine's apt
#                              sources for that release, else debootstrap's default)
#   RISKMAP_CONTAINERS_CACHE   cache of the debootstrap bases (default
#                              ~/.cache/riskmap-containers; safe to delete)
#   RISKMAP_CT_TIME_SCALE      multiplies every step's time limit (default 1; see ct_timeout)
#   RISKMAP_CT_RETRY_WAIT      seconds before a failed download is tried again (default 15)

CT_PROG=${CT_PROG:-containers}
CT_PY_BASE_REMOTE=docker.io/library/python:3.11-slim-bookworm
CT_PG_BASE_REMOTE=docker.io/postgis/postgis:15-3.4
CT_PG_MAJOR=15
CT_SUITE=${RISKMAP_DEBIAN_SUITE:-bookworm}
CT_CACHE=${RISKMAP_CONTAINERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/riskmap-containers}
# image names the bundle, compose.yaml and the tests use
CT_POSTGIS_IMAGE=localhost/riskmap-postgis:$CT_PG_MAJOR
CT_APP_REPO=localhost/riskmap

ct_say() { echo "$CT_PROG: $*" >&2; }
ct_die() { ct_say "ERROR: $*"; exit 1; }
ct_sudo() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# ---- timings ---------------------------------------------------------------------------------
CT_TIMINGS=()
CT_T0=$(date +%s)
CT_STEP_T=$CT_T0
ct_step() {  # ct_step NAME: closes the previous step's timer and names the next
    local now
    now=$(date +%s)
    [[ -n ${CT_STEP_NAME:-} ]] && CT_TIMINGS+=("$(printf '%5ds  %s' $((now - CT_STEP_T)) "$CT_STEP_NAME")")
    CT_STEP_NAME=$1
    CT_STEP_T=$now
    [[ -n $1 ]] && ct_say "== $1"
    return 0
}
ct_timings() {
    ct_step ""
    ct_say "timings:"
    printf '    %s\n' "${CT_TIMINGS[@]}" >&2
    ct_say "$(printf '%5ds  total' $(($(date +%s) - CT_T0)))"
}

# ---- bounded time, retried downloads ---------------------------------------------------------
# Every command that may hang (a download, a build, a container) runs under ct_timeout, so a
# step ends with a message naming it instead of eating CI's time; only downloads (apt, pip,
# debootstrap) are tried again, and not after a timeout. RISKMAP_CT_TIME_SCALE multiplies
# every limit (e.g. 2 on a slow machine); RISKMAP_CT_RETRY_WAIT is the first pause between
# tries (15 s; then twice that, ...).
ct_timeout() {  # ct_timeout SECONDS WHAT CMD...: CMD, stopped (TERM, then KILL) after SECONDS
    local limit=$1 what=$2 rc=0 t0=$SECONDS
    shift 2
    limit=$((limit * ${RISKMAP_CT_TIME_SCALE:-1}))
    # (--foreground: Ctrl+C still reaches CMD; only CMD itself is signalled, not its children)
    timeout --foreground --kill-after=30 "$limit" "$@" || rc=$?
    # (124: stopped by TERM; 137: by KILL after 30 s more, or killed by something else)
    if [[ $rc -eq 124 || ( $rc -eq 137 && $((SECONDS - t0)) -ge $limit ) ]]; then
        ct_say "TIMEOUT: $what did not finish in ${limit}s${CT_STEP_NAME:+ (step: $CT_STEP_NAME)}"
        return 124
    fi
    return "$rc"
}
ct_retry() {  # ct_retry TRIES SECONDS WHAT CMD...: ct_timeout SECONDS, again on a failure
    local tries=$1 limit=$2 what=$3 n=1 rc
    shift 3
    while :; do
        rc=0
        ct_timeout "$limit" "$what" "$@" || rc=$?
        [[ $rc -eq 0 || $rc -eq 124 || $n -ge $tries ]] && return "$rc"
        local wait=$((n * ${RISKMAP_CT_RETRY_WAIT:-15}))
        ct_say "$what failed (exit $rc, try $n of $tries); trying again in ${wait}s"
        sleep "$wait"
        n=$((n + 1))
    done
}

# ---- OS packages -----------------------------------------------------------------------------
_ct_apt_updated=0
ct_apt_install() {  # ct_apt_install PKG...: install what is missing from the OS packages
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null 2>&1 || ct_die "install ${missing[*]} (no apt-get here)"
    ct_say "installing ${missing[*]} from the OS packages"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3
               -o Acquire::http::Timeout=60 -o Dpkg::Use-Pty=0)
    [[ $(id -u) -eq 0 ]] || apt=(sudo "${apt[@]}")
    if [[ $_ct_apt_updated -eq 0 ]]; then
        ct_retry 3 300 "apt-get update" "${apt[@]}" update -qq >/dev/null \
            || ct_die "apt-get update failed (the OS package mirror?)"
        _ct_apt_updated=1
    fi
    ct_retry 3 600 "apt-get install ${missing[*]}" "${apt[@]}" install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null \
        || ct_die "apt-get install ${missing[*]} failed"
}

# ---- the engine ------------------------------------------------------------------------------
CT_ENGINE=
CT_GLOBAL=()
CT_LIMITS=()
ct_engine_setup() {  # ct_engine_setup [install]: pick podman/docker (install podman if asked)
    CT_ENGINE=${RISKMAP_CONTAINER_ENGINE:-}
    if [[ -z $CT_ENGINE ]]; then
        if command -v podman >/dev/null 2>&1; then CT_ENGINE=podman
        elif [[ ${1:-} == install ]]; then
            # named, not left to apt: without recommends podman gets the CNI plugins, whose
            # networks give the containers no names (the app finds the database as `db`)
            ct_apt_install podman runc netavark aardvark-dns iptables
            CT_ENGINE=podman
        elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then CT_ENGINE=docker
        else ct_die "no container engine: install podman (apt-get install podman runc)"
        fi
    fi
    command -v "$CT_ENGINE" >/dev/null 2>&1 || ct_die "$CT_ENGINE is not installed"
    CT_GLOBAL=()
    CT_LIMITS=()
    [[ $CT_ENGINE == podman ]] || return 0
    # crun refuses some machines' cgroups; runc works wherever podman does
    local runtime=${RISKMAP_CT_RUNTIME:-}
    if [[ -z $runtime ]] && command -v runc >/dev/null 2>&1; then runtime=runc; fi
    [[ -n $runtime && $runtime != default ]] && CT_GLOBAL=(--runtime "$runtime")
    # podman's default ulimits (nofile 1048576, nproc 4194304) exceed what some machines allow
    # a container: stay within this machine's hard limits
    local u=${RISKMAP_CT_ULIMITS:-} nofile nproc
    if [[ -z $u ]]; then
        nofile=$(ulimit -Hn); [[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
        nproc=$(ulimit -Hu); [[ $nproc == unlimited || $nproc -gt 4096 ]] && nproc=4096
        u="nofile=$nofile:$nofile nproc=$nproc:$nproc"
    fi
    if [[ $u != none ]]; then
        local one
        for one in $u; do CT_LIMITS+=(--ulimit "$one"); done
    fi
}
ct_names_ok() {  # 0 when podman's networks resolve container names (netavark + aardvark-dns)
    [[ $CT_ENGINE == podman ]] || return 0
    local backend
    backend=$(ct info --format '{{.Host.NetworkBackend}}' 2>/dev/null || true)
    if [[ $backend == cni ]]; then
        local d
        for d in /usr/lib/cni /usr/libexec/cni /opt/cni/bin; do [[ -x $d/dnsname ]] && return 0; done
        return 1
    fi
    [[ $backend != netavark ]] && return 0
    local p
    for p in /usr/lib/podman/aardvark-dns /usr/libexec/podman/aardvark-dns /usr/local/libexec/podman/aardvark-dns; do
        [[ -x $p ]] && return 0
    done
    command -v aardvark-dns >/dev/null 2>&1
}
ct() { "$CT_ENGINE" "${CT_GLOBAL[@]}" "$@"; }
ct_t() {  # ct_t SECONDS WHAT ARGS...: the engine under ct_timeout
    local limit=$1 what=$2
    shift 2
    ct_timeout "$limit" "$what" "$CT_ENGINE" "${CT_GLOBAL[@]}" "$@"
}
ct_run() { ct run "${CT_LIMITS[@]}" "$@"; }
ct_build() {  # ct_build SECONDS WHAT ARGS...: build, bounded in time
    local limit=$1 what=$2
    shift 2
    # docker format: OCI images drop HEALTHCHECK
    if [[ $CT_ENGINE == podman ]]; then ct_t "$limit" "$what" build "${CT_LIMITS[@]}" --format docker "$@"
    else ct_t "$limit" "$what" build "$@"; fi
}
ct_image_exists() {
    if [[ $CT_ENGINE == podman ]]; then ct image exists "$1"
    else ct image inspect "$1" >/dev/null 2>&1; fi
}
_ct_registry_down=
_ct_registry_answers() {  # _ct_registry_answers IMAGE: 1 when its registry does not answer in 15 s
    command -v curl >/dev/null 2>&1 || return 0  # (then the pull finds out)
    local host=${1%%/*}
    [[ $1 == */* && ( $host == *.* || $host == *:* || $host == localhost ) ]] || host=docker.io
    [[ $host == docker.io ]] && host=registry-1.docker.io
    [[ " $_ct_registry_down " == *" $host "* ]] && return 1
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 15 "https://$host/v2/" 2>/dev/null) != 000 ]] \
        && return 0
    _ct_registry_down+=" $host"
    return 1
}
ct_try_pull() {  # ct_try_pull IMAGE: 0 when IMAGE is here (already, or pulled now)
    ct_image_exists "$1" && return 0
    [[ ${RISKMAP_CT_PULL:-1} == 1 ]] || return 1
    if ! _ct_registry_answers "$1"; then
        ct_say "the registry of $1 does not answer; building it instead"
        return 1
    fi
    ct_say "pulling $1"
    if ct_t 900 "pulling $1" pull -q "$1" >/dev/null 2>"$CT_WORK/pull.err"; then
        return 0
    fi
    ct_say "cannot pull $1 ($(grep -v '^ *$' "$CT_WORK/pull.err" | tail -n1 | cut -c1-240)); building it instead"
    return 1
}

# ---- Debian bases ----------------------------------------------------------------------------
_ct_hash() { sha256sum | cut -c1-16; }

ct_debian_mirror() {  # the mirror of this machine's apt sources for $CT_SUITE (or nothing)
    [[ -n ${RISKMAP_DEBIAN_MIRROR:-} ]] && { echo "$RISKMAP_DEBIAN_MIRROR"; return 0; }
    local f found=
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f && -z $found ]] || continue
        found=$(awk -v s="$CT_SUITE" '$1 == "deb" {
                    i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                    if ($(i + 1) == s && $i ~ /^https?:\/\//) { print $i; exit } }' "$f")
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f && -z $found ]] || continue
        found=$(awk -v s="$CT_SUITE" 'BEGIN { RS = ""; FS = "\n" } {
                    uri = ""; ok = 0; deb = 0
                    for (i = 1; i <= NF; i++) {
                        if ($i ~ /^Types:/ && $i ~ /[[:space:]]deb([[:space:]]|$)/) deb = 1
                        if ($i ~ /^URIs:/) { split($i, u, /[[:space:]]+/); uri = u[2] }
                        if ($i ~ /^Suites:/) { n = split($i, w, /[[:space:]]+/)
                            for (j = 2; j <= n; j++) if (w[j] == s) ok = 1 }
                    }
                    if (deb && ok && uri ~ /^https?:\/\//) { print uri; exit } }' "$f")
    done
    echo "$found"
}

ct_minbase() {  # prints the image of a debootstrap --variant=minbase of $CT_SUITE (cached)
    local mirror arch key image tar rootfs
    mirror=$(ct_debian_mirror)
    arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
    key=$(printf 'minbase-v1 %s %s %s\n' "$CT_SUITE" "$arch" "$mirror" | _ct_hash)
    image=localhost/riskmap-minbase:$CT_SUITE-$key
    if ct_image_exists "$image"; then echo "$image"; return 0; fi
    tar=$CT_CACHE/minbase-$CT_SUITE-$key.tar
    if [[ ! -s $tar ]]; then
        [[ $(id -u) -eq 0 ]] || ct_die "debootstrap needs root (or set RISKMAP_BASE_IMAGE)"
        ct_apt_install debootstrap
        mkdir -p "$CT_CACHE"
        # what a killed earlier debootstrap left (over a day old: not one running now)
        local old
        for old in "$CT_CACHE"/rootfs.*; do
            [[ -d $old && -n $(find "$old" -maxdepth 0 -mmin +1440) ]] && _ct_rm_rootfs "$old"
        done
        ct_say "debootstrap --variant=minbase $CT_SUITE ${mirror:-(the default mirror)} (a few minutes, once)"
        # interrupted (Ctrl+C, a timeout): no half-made tree stays behind (this runs in the
        # subshell of $(ct_minbase): the caller's traps are not touched)
        if [[ $BASH_SUBSHELL -gt 0 ]]; then
            trap '_ct_rm_rootfs "${rootfs:-}"' EXIT
            trap 'exit 130' INT TERM
        fi
        local try rc=1
        for try in 1 2 3; do
            rootfs=$(mktemp -d "$CT_CACHE/rootfs.XXXXXX")
            rc=0
            # shellcheck disable=SC2086
            ct_timeout 1200 debootstrap debootstrap --variant=minbase --arch="$arch" "$CT_SUITE" \
                "$rootfs" $mirror >"$CT_WORK/debootstrap.log" 2>&1 || rc=$?
            [[ $rc -eq 0 ]] && break
            tail -n 20 "$CT_WORK/debootstrap.log" >&2
            _ct_rm_rootfs "$rootfs"
            [[ $rc -eq 124 ]] && break  # a timeout is not tried again: the next would hang too
            local wait=$((try * ${RISKMAP_CT_RETRY_WAIT:-15}))
            [[ $try -lt 3 ]] && { ct_say "debootstrap failed (try $try of 3); trying again in ${wait}s"; sleep "$wait"; }
        done
        [[ $rc -eq 0 ]] || ct_die "debootstrap failed (see above)"
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar --numeric-owner -C "$rootfs" -cf "$tar.part" . || { _ct_rm_rootfs "$rootfs"; rm -f "$tar.part"; ct_die "packing the debootstrap base failed (disk full?)"; }
        mv "$tar.part" "$tar"
        _ct_rm_rootfs "$rootfs"
        rootfs=
    fi
    ct_say "importing $tar"
    ct_t 600 "podman import" import -q --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
        "$tar" "$image" >/dev/null || ct_die "importing $tar failed"
    echo "$image"
}

_ct_rm_rootfs() {  # removes a debootstrap folder, first unmounting what a killed run left mounted
    local dir=$1 m
    [[ -n $dir && -d $dir ]] || return 0
    # (deepest first; /proc/mounts escapes spaces as \040: mktemp names have none)
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$dir"
}

_ct_apt_sources() {  # a folder of apt sources for the base builds: this machine's when it runs
    # the same Debian release (mirrors, updates, security), else debootstrap's own list
    local dir=$1
    mkdir -p "$dir/sources.list.d"
    # shellcheck disable=SC1091
    if [[ -r /etc/os-release ]] && (. /etc/os-release && [[ ${ID:-} == debian && ${VERSION_CODENAME:-} == "$CT_SUITE" ]]); then
        [[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$dir/sources.list"
        cp /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources "$dir/sources.list.d/" 2>/dev/null || true
    fi
    [[ -f $dir/sources.list ]] || : >"$dir/sources.list"
}

ct_debian_image() {  # ct_debian_image NAME CONTAINERFILE_DIR: build NAME on the minbase (cached)
    local name=$1 dir=$2 minbase key image tar
    minbase=$(ct_minbase) || ct_die "no Debian base for $name"
    key=$( (echo "$minbase"; cat "$dir"/*) | _ct_hash)
    image=localhost/$name:$CT_SUITE-$key
    if ct_image_exists "$image"; then echo "$image"; return 0; fi
    tar=$CT_CACHE/$name-$CT_SUITE-$key.tar
    if [[ -s $tar ]]; then
        ct_say "loading $tar"
        ct_t 600 "podman load" load -q -i "$tar" >/dev/null && ct_image_exists "$image" \
            && { echo "$image"; return 0; }
    fi
    ct_say "building $image from Debian packages"
    local src="$CT_WORK/apt-$name"
    _ct_apt_sources "$src"
    local sources=()
    [[ -s $src/sources.list ]] && sources+=(-v "$src/sources.list:/etc/apt/sources.list:ro")
    [[ -n $(ls -A "$src/sources.list.d") ]] && sources+=(-v "$src/sources.list.d:/etc/apt/sources.list.d:ro")
    # apt retries a flaky download itself (a mount: the Containerfiles, hence the key, stay)
    printf '%s\n' 'Acquire::Retries "5";' 'Acquire::http::Timeout "60";' >"$src/80riskmap-retries"
    sources+=(-v "$src/80riskmap-retries:/etc/apt/apt.conf.d/80riskmap-retries:ro")
    local try rc
    for try in 1 2; do
        rc=0
        ct_build 1200 "building $image" -q --network host "${sources[@]}" \
            --build-arg "MINBASE=$minbase" --build-arg "SUITE=$CT_SUITE" \
            --build-arg "PG_MAJOR=$CT_PG_MAJOR" -t "$image" "$dir" >/dev/null || rc=$?
        [[ $rc -eq 0 || $rc -eq 124 ]] && break
        [[ $try -eq 1 ]] && { ct_say "building $image failed (a download?); trying again in 15s"; sleep 15; }
    done
    [[ $rc -eq 0 ]] || ct_die "building $image failed"
    mkdir -p "$CT_CACHE"
    if ct_t 600 "podman save" save -q -o "$tar.part" "$image"; then mv "$tar.part" "$tar"
    else rm -f "$tar.part"; ct_say "note: could not cache $image in $CT_CACHE"; fi
    echo "$image"
}

ct_python_base() {  # prints the base image of the app: python 3.11 with venv
    if [[ -n ${RISKMAP_BASE_IMAGE:-} ]]; then
        ct_try_pull "$RISKMAP_BASE_IMAGE" || ct_die "RISKMAP_BASE_IMAGE=$RISKMAP_BASE_IMAGE is not available"
        echo "$RISKMAP_BASE_IMAGE"; return 0
    fi
    if ct_try_pull "$CT_PY_BASE_REMOTE"; then echo "$CT_PY_BASE_REMOTE"; return 0; fi
    ct_debian_image riskmap-base-python "$ROOT/containers/base-python"
}

ct_postgis_image() {  # tags $CT_POSTGIS_IMAGE: the registry's PostGIS, else one built here
    local base=${RISKMAP_POSTGIS_BASE:-}
    if [[ -n $base ]]; then
        ct_try_pull "$base" || ct_die "RISKMAP_POSTGIS_BASE=$base is not available"
    elif ct_try_pull "$CT_PG_BASE_REMOTE"; then
        base=$CT_PG_BASE_REMOTE
    else
        base=$(ct_debian_image riskmap-postgis-debian "$ROOT/containers/postgis")
    fi
    ct tag "$base" "$CT_POSTGIS_IMAGE"
    ct_say "PostGIS image: $CT_POSTGIS_IMAGE (from $base)"
}
