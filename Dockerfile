# riskmap web app, built offline from the wheelhouse that scripts/bundle writes into dist/bundle/
# (the runtime dependencies pinned by requirements/lock.txt, and riskmap's own wheel). This
# build reaches no package index: pip installs with --no-index from those wheels only.
#
#   scripts/bundle                     # wheels + this build + podman save, see docs/deployment.md
#   podman build --format docker --network none --build-arg BASE_IMAGE=... -t localhost/riskmap .
#
# No password is baked in: every request but /healthz and the login page needs a login with
# an account of the store (RISKMAP_APP__AUTH=accounts, the default; `none` is refused beyond
# loopback). The first admin account is made at run time by the one-shot `riskmap-init` from
# RISKMAP_ADMIN_PASSWORD (compose .env / docker run --env-file).

# a Debian 12 image with python3 (3.11, the lock's) and its venv module: the registry's, or the
# one scripts/bundle builds from Debian packages when no registry answers
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

# ---- the dependencies: a layer that changes only with the lock ----------------------------
FROM ${BASE_IMAGE} AS deps
# scripts/bundle passes --ignore-requires-python when a wheel of the lock asks for a newer
# Python patch release than the base has (it names them)
ARG PIP_EXTRA=""
ENV PIP_NO_INDEX=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY dist/bundle/wheels/ /wheels/
RUN python3 -m venv /opt/riskmap/venv \
    && /opt/riskmap/venv/bin/python -m pip install --quiet --no-index --find-links /wheels \
        --only-binary :all: ${PIP_EXTRA} --requirement /wheels/requirements.txt \
    && /opt/riskmap/venv/bin/python -m pip check

# ---- the app ---------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG RISKMAP_VERSION=unknown
LABEL org.opencontainers.image.title="riskmap" \
      org.opencontainers.image.description="Geospatial risk mapping for mahalla public safety (web app and CLI)" \
      org.opencontainers.image.version="${RISKMAP_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_NO_INDEX=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    PATH=/opt/riskmap/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

COPY --from=deps /opt/riskmap/venv /opt/riskmap/venv
COPY dist/bundle/app/ /tmp/riskmap-app/
COPY containers/riskmap-load containers/riskmap-init /usr/local/bin/
RUN python -m pip install --quiet --no-index --no-deps /tmp/riskmap-app/riskmap-*.whl \
    && python -m pip check \
    && if [ -d /tmp/riskmap-app/fonts ]; then mkdir -p /usr/share/fonts/truetype/dejavu \
        && cp /tmp/riskmap-app/fonts/*.ttf /usr/share/fonts/truetype/dejavu/; fi \
    && rm -rf /tmp/riskmap-app \
    && chmod 755 /usr/local/bin/riskmap-load /usr/local/bin/riskmap-init \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/riskmap \
        --shell /usr/sbin/nologin riskmap \
    && mkdir -p /data /import \
    && chown riskmap:riskmap /data /import \
    && riskmap --version

USER riskmap
WORKDIR /home/riskmap

# defaults: an embedded store in the /data volume (one worker); compose points RISKMAP_STORE at
# PostGIS (a gunicorn worker per CPU). Tracebacks of unexpected errors go to the log file, never
# to the screen: keep it in the volume.
ENV RISKMAP_STORE=/data/store \
    RISKMAP_LOG_FILE=/data/log/riskmap.log \
    RISKMAP_APP__PORT=8050
VOLUME ["/data"]
EXPOSE 8050

# /healthz answers without a login: 200 when the store answers, 503 when it does not
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["python", "-c", \
    "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('RISKMAP_APP__PORT', '8050'), timeout=4)"]

# `riskmap serve` runs gunicorn (migrates a PostGIS store first) on every interface, each worker
# with a background-jobs thread (RISKMAP_JOBS__IN_SERVER=0 leaves jobs to `riskmap worker`).
# Other commands: `podman run --rm IMAGE riskmap-init` (schema + first admin account),
# riskmap-load, `riskmap users ...`, `riskmap info`.
CMD ["riskmap", "serve", "--host", "0.0.0.0"]
