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
    if [[ $_ct_apt_updated -eq 0 ]]; then
        ct_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        _ct_apt_updated=1
    fi
    ct_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
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
            ct_apt_install podman runc
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
ct() { "$CT_ENGINE" "${CT_GLOBAL[@]}" "$@"; }
ct_run() { ct run "${CT_LIMITS[@]}" "$@"; }
ct_build() {
    # docker format: OCI images drop HEALTHCHECK
    if [[ $CT_ENGINE == podman ]]; then ct build "${CT_LIMITS[@]}" --format docker "$@"
    else ct build "$@"; fi
}
ct_image_exists() {
    if [[ $CT_ENGINE == podman ]]; then ct image exists "$1"
    else ct image inspect "$1" >/dev/null 2>&1; fi
}
ct_try_pull() {  # ct_try_pull IMAGE: 0 when IMAGE is here (already, or pulled now)
    ct_image_exists "$1" && return 0
    [[ ${RISKMAP_CT_PULL:-1} == 1 ]] || return 1
    ct_say "pulling $1"
    if timeout 600 "$CT_ENGINE" "${CT_GLOBAL[@]}" pull -q "$1" >/dev/null 2>"$CT_WORK/pull.err"; then
        return 0
    fi
    ct_say "cannot pull $1 ($(tail -n1 "$CT_WORK/pull.err" | cut -c1-160)); building it instead"
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
        rootfs=$(mktemp -d "$CT_CACHE/rootfs.XXXXXX")
        ct_say "debootstrap --variant=minbase $CT_SUITE ${mirror:-(the default mirror)} (a few minutes, once)"
        # shellcheck disable=SC2086
        if ! debootstrap --variant=minbase --arch="$arch" "$CT_SUITE" "$rootfs" $mirror \
                >"$CT_WORK/debootstrap.log" 2>&1; then
            tail -n 20 "$CT_WORK/debootstrap.log" >&2
            rm -rf "$rootfs"
            ct_die "debootstrap failed"
        fi
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar --numeric-owner -C "$rootfs" -cf "$tar.part" .
        mv "$tar.part" "$tar"
        rm -rf "$rootfs"
    fi
    ct_say "importing $tar"
    ct import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' "$tar" "$image" >/dev/null
    echo "$image"
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
    minbase=$(ct_minbase)
    key=$( (echo "$minbase"; cat "$dir"/*) | _ct_hash)
    image=localhost/$name:$CT_SUITE-$key
    if ct_image_exists "$image"; then echo "$image"; return 0; fi
    tar=$CT_CACHE/$name-$CT_SUITE-$key.tar
    if [[ -s $tar ]]; then
        ct_say "loading $tar"
        ct load -q -i "$tar" >/dev/null && ct_image_exists "$image" && { echo "$image"; return 0; }
    fi
    ct_say "building $image from Debian packages"
    local src="$CT_WORK/apt-$name"
    _ct_apt_sources "$src"
    local sources=()
    [[ -s $src/sources.list ]] && sources+=(-v "$src/sources.list:/etc/apt/sources.list:ro")
    [[ -n $(ls -A "$src/sources.list.d") ]] && sources+=(-v "$src/sources.list.d:/etc/apt/sources.list.d:ro")
    ct_build -q --network host "${sources[@]}" --build-arg "MINBASE=$minbase" \
        --build-arg "SUITE=$CT_SUITE" --build-arg "PG_MAJOR=$CT_PG_MAJOR" \
        -t "$image" "$dir" >/dev/null || ct_die "building $image failed"
    mkdir -p "$CT_CACHE"
    ct save -q -o "$tar.part" "$image" && mv "$tar.part" "$tar"
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
