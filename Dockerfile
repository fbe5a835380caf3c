# riskmap web app: `docker build -t riskmap .` then see compose.yaml (app + PostGIS).
# No password is baked in: the app refuses to listen beyond loopback unless
# RISKMAP_APP__PASSWORD is given at run time (docker run -e / compose .env).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/riskmap

# dependencies first, at the tested versions of requirements/lock.txt (a layer cached while
# only the code changes): the runtime dependencies pyproject.toml declares, pinned by the lock
COPY pyproject.toml README.md ./
COPY requirements/lock.txt ./requirements/lock.txt
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c requirements/lock.txt -r /tmp/requirements.txt
COPY riskmap ./riskmap
COPY geo ./geo
COPY layers ./layers
COPY etl ./etl
COPY app ./app
RUN pip install --no-deps -c requirements/lock.txt . \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/riskmap riskmap \
    && mkdir -p /data \
    && chown riskmap:riskmap /data

USER riskmap
WORKDIR /home/riskmap

# defaults: an embedded store in the /data volume; compose points RISKMAP_STORE at PostGIS
ENV RISKMAP_STORE=/data/store \
    RISKMAP_APP__HOST=0.0.0.0 \
    RISKMAP_APP__PORT=8050
VOLUME ["/data"]
EXPOSE 8050

# any HTTP answer (401 included, when a password is set) means the server is up
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", \
    "import http.client as h; c = h.HTTPConnection('127.0.0.1', 8050, timeout=4); c.request('GET', '/'); c.getresponse()"]

CMD ["riskmap", "serve", "--host", "0.0.0.0"]
