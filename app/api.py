"""The ingest API for live feeds: ``POST /api/v1/incidents`` and ``POST /api/v1/cameras``.

A system posts a batch (a JSON list of records, or a GeoJSON FeatureCollection) with
``Authorization: Bearer TOKEN`` (a token made by ``riskmap tokens create``). The batch goes
through the file ingest itself (:mod:`riskmap.etl.ingest`, :mod:`riskmap.etl.features`):
it is written as a CSV (records) or GeoJSON (features) file named after the batch and loaded
like ``riskmap ingest``, so validation, geocoding, quarantine and idempotency are the same,
and the answer is the same report (plus each quarantined row with its reason).

What a token may do is checked before anything is written: its kinds (403), and its scope:
every row written (and any stored row it would replace) must lie in the token's regions and
districts, otherwise the whole batch is refused (403, the rows named) and nothing is stored.
Answers are JSON, never a stack trace; each request is audited as ``token:<name>``. No session
or ``Origin`` is needed under ``/api/v1`` (:mod:`riskmap.app.auth` leaves it to this module),
and bodies are bounded: at most :data:`MAX_BATCH_ROWS` rows and :data:`MAX_BATCH_BYTES`
bytes (413 beyond). ``GET /api/v1/openapi.json`` serves :data:`OPENAPI`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from riskmap.auth import throttle
from riskmap.auth.apitokens import KINDS, ApiToken, lookup_token, touch_token
from riskmap.errors import RiskmapError
from riskmap.etl.runs import recorded_run
from riskmap.layers.access import DataAccess
from riskmap.layers.spec import get_spec
from riskmap.settings import Settings

__all__ = ["API_PREFIX", "MAX_BATCH_BYTES", "MAX_BATCH_ROWS", "OPENAPI", "install_api"]

_LOG = logging.getLogger("riskmap.app.api")
API_PREFIX = "/api/v1"
#: the most rows one batch may hold
MAX_BATCH_ROWS = 5_000
#: the largest body one batch may have (and never more than the app's ``max_request_bytes``)
MAX_BATCH_BYTES = 1024 * 1024
#: fields a record may not set (reader bookkeeping; a quarantine id would resolve stored rows)
RESERVED_FIELDS = ("_row", "_sheet", "_formula", "quarantine_id")
#: the most fields per record, and the longest field name
MAX_FIELDS, MAX_FIELD_CHARS = 100, 100
#: the quarantined rows listed in an answer (the counts are always complete)
MAX_LISTED = 1_000


class BatchError(ValueError):
    """A malformed batch (400), or one over the limits (``status=413``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class OutsideScope(PermissionError):
    """Rows of a batch lie outside the token's scope (nothing is written)."""

    #: the batch is recorded as a ``refused`` ingest run (:func:`riskmap.etl.runs.refused`)
    refused_input = True

    def __init__(self, layer: str, rows: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(rows)} row(s) of {layer!r} lie outside the token's scope")
        self.layer = layer
        self.rows = rows


# ---- the OpenAPI description (data; tests/app/test_api.py checks it against the routes) ----

_ERROR = {"type": "object", "required": ["error"],
          "properties": {"error": {"type": "string"},
                         "rows": {"type": "array", "items": {"type": "object"}}}}
_SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}
_RECORDS = {"type": "array", "maxItems": MAX_BATCH_ROWS,
            "items": {"type": "object", "additionalProperties": _SCALAR,
                      "maxProperties": MAX_FIELDS}}
_FEATURES = {"type": "object", "required": ["type", "features"],
             "properties": {"type": {"const": "FeatureCollection"},
                            "features": {"type": "array", "maxItems": MAX_BATCH_ROWS,
                                         "items": {"type": "object",
                                                   "required": ["type", "geometry"],
                                                   "properties": {
                                                       "type": {"const": "Feature"},
                                                       "geometry": {"type": ["object", "null"]},
                                                       "properties": {
                                                           "type": ["object", "null"],
                                                           "additionalProperties": _SCALAR}}}}}}
_QUARANTINED = {"type": "object", "required": ["row", "reason", "detail"],
                "properties": {"row": {"type": "integer", "description":
                                       "1-based position of the row in the batch"},
                               "reason": {"type": "string"},
                               "detail": {"type": ["string", "null"]}}}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_REPORT = {"type": "object",
           "required": ["batch", "layer", "input_rows", "loaded", "updated", "duplicates",
                        "quarantined", "by_reason", "by_precision", "warnings",
                        "quarantined_rows", "seconds"],
           "properties": {"batch": {"type": "string", "description":
                                    "the batch's name: source_file of its rows"},
                          "layer": {"type": "string"},
                          "input_rows": {"type": "integer"},
                          "loaded": {"type": "integer"}, "updated": {"type": "integer"},
                          "duplicates": {"type": "integer"},
                          "quarantined": {"type": "integer"},
                          "by_reason": _COUNTS, "by_precision": _COUNTS,
                          "fixed": _COUNTS,
                          "resolved_quarantine": {"type": "integer"},
                          "warnings": {"type": "array", "items": {"type": "string"}},
                          "quarantined_rows": {"type": "array", "items": _QUARANTINED},
                          "seconds": {"type": "number"}}}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _post(kind: str, fields: str) -> dict[str, Any]:
    return {"post": {
        "operationId": f"post_{kind}",
        "summary": f"Load a batch of {kind}",
        "description": (
            f"Loads the rows as `riskmap ingest {kind}` loads a file: {fields} Every row is "
            "loaded, updated, a duplicate (the same batch twice loads nothing new) or "
            "quarantined with a reason. The batch is one transaction. Every row written, and "
            "every stored row it replaces, must lie in the token's scope, else the whole "
            f"batch is refused (403). At most {MAX_BATCH_ROWS} rows and {MAX_BATCH_BYTES} "
            "bytes."),
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"oneOf": [_RECORDS, _FEATURES]}},
            "application/geo+json": {"schema": _FEATURES}}},
        "responses": {
            "200": _answer("The ingest report of the batch", _REPORT),
            "400": _answer("Malformed batch (not JSON, not a list of flat records or a "
                           "FeatureCollection, or a required field missing)", _ERROR),
            "401": _answer("No token, an unknown or a revoked token", _ERROR),
            "403": _answer("The token may not post this kind, or rows lie outside its scope",
                           _ERROR),
            "413": _answer("The batch has too many rows or bytes", _ERROR),
        }}}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "riskmap ingest API", "version": "1",
             "description": "Live feeds of incidents and cameras. Tokens: `riskmap tokens "
                            "create NAME --region REGION [--kinds incidents,cameras]`."},
    "servers": [{"url": "/"}],
    "paths": {
        f"{API_PREFIX}/incidents": _post(
            "incidents", "`incident_id`, `occurred_at` (ISO 8601; local time without an "
            "offset), `category`, and a location: `lat`/`lon`, a point geometry, or "
            "`address`/`mahalla`/`district`/`region`."),
        f"{API_PREFIX}/cameras": _post(
            "cameras", "`camera_id`, `type`, a point (`lat`/`lon` or a geometry), and "
            "optionally `bearing_deg`, `fov_deg`, `range_m`, `height_m`, `status`, "
            "`installed_on`."),
        f"{API_PREFIX}/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This description", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {"application/json": {}}}}}},
    },
    "components": {"securitySchemes": {"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "A token from `riskmap tokens create` (stored only as SHA-256)"}}},
}


# ---- parsing a batch -------------------------------------------------------------------------

def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _check_fields(fields: Any, where: str) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise BatchError(f"{where} is not an object of fields")
    if len(fields) > MAX_FIELDS:
        raise BatchError(f"{where} has {len(fields)} fields, more than {MAX_FIELDS}")
    for key, value in fields.items():
        if len(key) > MAX_FIELD_CHARS or not key.strip():
            raise BatchError(f"{where}: a field name is empty or longer than "
                             f"{MAX_FIELD_CHARS} characters")
        if not _scalar(value):
            raise BatchError(f"{where}, field {key[:60]!r}: a value must be a string, number, "
                             "boolean or null, not a list or object")
    return {k: v for k, v in fields.items() if k not in RESERVED_FIELDS}


def parse_batch(body: bytes) -> tuple[str, Any, int]:
    """``("records", rows, n)`` or ``("features", feature_collection, n)`` of a request body.

    Raises
    ------
    BatchError
        Not UTF-8 JSON, not a list of flat records or a FeatureCollection, or over
        :data:`MAX_BATCH_ROWS` rows (``status=413``).
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BatchError("the body is not UTF-8 text") from None
    except RecursionError:
        raise BatchError("the body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise BatchError(f"the body is not JSON: {exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}") from None
    if isinstance(data, list):
        kind, items = "records", data
    elif isinstance(data, dict) and data.get("type") == "FeatureCollection":
        kind, items = "features", data.get("features")
        if not isinstance(items, list):
            raise BatchError("'features' of the FeatureCollection is not a list")
    else:
        raise BatchError("expected a JSON list of records or a GeoJSON FeatureCollection")
    if len(items) > MAX_BATCH_ROWS:
        raise BatchError(f"the batch has {len(items):,} rows, more than the {MAX_BATCH_ROWS:,} "
                         "one batch may have: split it", status=413)
    if kind == "records":
        return kind, [_check_fields(r, f"row {i}") for i, r in enumerate(items, 1)], len(items)
    features = []
    for i, feature in enumerate(items, 1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise BatchError(f"row {i} is not a GeoJSON Feature")
        geometry = feature.get("geometry")
        if geometry is not None and not (isinstance(geometry, dict)
                                         and isinstance(geometry.get("type"), str)):
            raise BatchError(f"row {i}: 'geometry' is not a GeoJSON geometry or null")
        props = _check_fields(feature.get("properties") or {}, f"row {i}")
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return kind, {"type": "FeatureCollection", "features": features}, len(features)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return value


def write_batch(kind: str, data: Any, folder: Path, name: str) -> Path:
    """The batch as the file the ingest reads: a CSV of the records, or the GeoJSON."""
    if kind == "features":
        path = folder / f"{name}.geojson"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path
    columns = list(dict.fromkeys(k for record in data for k in record))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in data:
        writer.writerow([_cell(record.get(c)) for c in columns])
    path = folder / f"{name}.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


# ---- the token's scope over the ingest's writes -------------------------------------------

class _ScopedTxn:
    """The ingest's transaction, checked against the token's scope (see the module docstring).

    Quarantine rows are the token's own rejected input and are kept (listed in the answer);
    rows of a region-scoped layer must lie in the scope, as must the stored rows they replace.
    """

    def __init__(self, txn: Any, access: DataAccess, offset: int,
                 quarantined: list[dict[str, Any]]) -> None:
        self._txn = txn
        self._access = access
        self._offset = offset
        self._quarantined = quarantined

    def _outside(self, layer: str, frame: pd.DataFrame) -> None:
        access = self._access
        spec = get_spec(layer)
        if access.regions is None or len(frame) == 0:
            return
        if spec is None or "region" not in spec.column_names:
            raise OutsideScope(layer, [{"row": None, "region": None, "district": None}])
        rows = []
        regions = frame["region"].astype(object) if "region" in frame.columns \
            else pd.Series([None] * len(frame), dtype=object)
        districts = frame["district"].astype(object) if "district" in frame.columns \
            else pd.Series([None] * len(frame), dtype=object)
        positions = (frame["source_row"] if "source_row" in frame.columns else
                     frame["_row"] if "_row" in frame.columns else pd.Series([None] * len(frame)))
        for pos, region, district in zip(positions, regions, districts, strict=True):
            region = None if pd.isna(region) else str(region)
            district = None if pd.isna(district) else str(district)
            if not access.in_scope(region, district if access.districts is not None else None):
                rows.append({"row": None if pd.isna(pos) else int(pos) - self._offset,
                             "region": region, "district": district})
        if spec.key is not None and spec.key in frame.columns:
            cols = [c for c in (spec.key, "region", "district") if c in spec.column_names]
            stored = access.store.read(layer, columns=cols,
                                       filters=[(spec.key, "in", frame[spec.key].tolist())]
                                       ) if access.store.has(layer) else pd.DataFrame()
            for key, region, district in zip(stored.get(spec.key, []), stored.get("region", []),
                                             stored.get("district", []), strict=True):
                if not access.in_scope(region, district if access.districts is not None
                                       else None):
                    rows.append({"row": None, "id": str(key), "region": None,
                                 "district": None, "stored": "another scope"})
        if rows:
            raise OutsideScope(layer, rows)

    def upsert(self, layer: str, frame: pd.DataFrame) -> None:
        if layer == "quarantine":
            for pos, reason, detail in zip(frame["source_row"], frame["reason"],
                                           frame["detail"], strict=True):
                self._quarantined.append({
                    "row": None if pd.isna(pos) else int(pos) - self._offset,
                    "reason": str(reason), "detail": None if pd.isna(detail) else str(detail)})
        else:
            self._outside(layer, frame)
        self._txn.upsert(layer, frame)

    def append(self, layer: str, frame: pd.DataFrame) -> None:
        self._outside(layer, frame)
        self._txn.append(layer, frame)

    def replace(self, layer: str, frame: pd.DataFrame) -> None:
        raise PermissionError(f"the API never replaces a whole layer ({layer!r})")

    def delete(self, layer: str, key_values: Any) -> None:
        spec = get_spec(layer)
        if layer == "quarantine" or spec is None or spec.key is None:
            raise PermissionError(f"the API does not delete from {layer!r}")
        keys = list(key_values)
        if self._access.regions is not None and keys:
            cols = [c for c in (spec.key, "region", "district") if c in spec.column_names]
            stored = self._access.store.read(layer, columns=cols,
                                             filters=[(spec.key, "in", keys)])
            self._outside(layer, stored.assign(source_row=pd.NA))
        self._txn.delete(layer, keys)


class _ScopedStore:
    """The store as the ingest sees it: reads pass through, transactions are scope-checked."""

    def __init__(self, store: Any, access: DataAccess, offset: int) -> None:
        self._store = store
        self._access = access
        self._offset = offset
        self.quarantined: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_ScopedTxn]:
        with self._store.transaction() as txn:
            yield _ScopedTxn(txn, self._access, self._offset, self.quarantined)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def __repr__(self) -> str:
        return repr(self._store)


# ---- running a batch ---------------------------------------------------------------------

def _run_ingest(kind: str, path: Path, store: Any, settings: Settings) -> Any:
    """The file ingest of ``kind`` (as ``riskmap ingest`` dispatches it)."""
    from riskmap.etl import features
    from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context

    if kind == "cameras":
        return features.ingest_cameras(path, store)
    etl = settings.etl
    # no notes: they would name stored place aliases of every region
    ctx = load_context(store, aliases=load_aliases(etl.category_aliases,
                                                   etl.category_aliases_file),
                       tz=etl.timezone, snap_m=etl.snap_distance_m, res=etl.h3_resolution,
                       fuzzy_threshold=etl.fuzzy_threshold,
                       admin_threshold=etl.admin_threshold, admin_margin=etl.admin_margin)
    return ingest_incidents(path, store, ctx, chunk_rows=etl.chunk_rows)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(data, ensure_ascii=False, default=str) + "\n", status,
                    mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _error(message: str, status: int, **extra: Any) -> Response:
    headers = ({"WWW-Authenticate": 'Bearer realm="riskmap"'} if status == 401 else None)
    return _json({"error": message, **extra}, status, headers)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _batch_name(kind: str, token: ApiToken) -> str:
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S.%fZ")
    return f"api-{kind}-{token.name}-{stamp}"


#: who a failed token attempt is recorded as in ``login_failures`` (with ``api:<address>``
#: as its client: a feed's bad token does not slow the address's logins, nor the reverse)
FAILED_TOKEN_USER = "token:?"


def _failed_tokens(store: Any, client: str, since: pd.Timestamp) -> list[float]:
    """Times of the recent failed token attempts from ``client`` (an ``api:`` address)."""
    if not store.has("login_failures"):
        return []
    rows = store.read("login_failures", columns=["at"],
                      filters=[("client", "=", client), ("username", "=", FAILED_TOKEN_USER),
                               ("at", ">=", since)])
    return [t.timestamp() for t in pd.to_datetime(rows["at"], utc=True)]


def token_wait_s(store: Any, client: str, *, policy: throttle.Policy = throttle.DEFAULT,
                 now: pd.Timestamp | None = None) -> float:
    """Seconds ``client`` must wait before its next token is checked (0: go ahead).

    The login policy (:mod:`riskmap.auth.throttle`) over the address's failed token attempts:
    after ``free`` failures each further one doubles the wait, ``lock_after`` lock it out.
    """
    now = now or pd.Timestamp.now(tz="UTC")
    since = now - pd.Timedelta(seconds=policy.window_s)
    verdict = throttle.judge(_failed_tokens(store, client, since), now.timestamp(), policy)
    return 0.0 if verdict.allowed else max(float(verdict.wait_s), 0.001)


def record_failed_token(store: Any, client: str) -> None:
    """Record a failed token attempt from ``client`` (an ``api:`` address)."""
    with store.transaction() as txn:
        txn.upsert("login_failures", pd.DataFrame([{
            "failure_id": uuid.uuid4().hex, "at": pd.Timestamp.now(tz="UTC"),
            "username": FAILED_TOKEN_USER, "client": client}]))


def install_api(server: Flask, settings: Settings, access_for: Any) -> None:
    """Serve the ingest API on ``server`` (see the module docstring).

    ``access_for(principal)`` is the data access of a scope within the app's own regions limit
    (:meth:`riskmap.app.data.ModelRegistry.access_for`); the token's requests act through it.
    """
    from types import SimpleNamespace

    limit = min(MAX_BATCH_BYTES, int(server.config.get("MAX_CONTENT_LENGTH") or MAX_BATCH_BYTES))
    store = access_for(SimpleNamespace(username="api", regions=(), districts=(),
                                       client="app")).store

    def _client() -> str:
        return (request.remote_addr or "")[:64]

    def _body() -> bytes:
        if request.content_length is not None and request.content_length > limit:
            raise BatchError(f"the body has {request.content_length:,} bytes, more than the "
                             f"{limit:,} one batch may have: split it", status=413)
        try:
            body = request.stream.read(limit + 1)
        except RequestEntityTooLarge:
            body = b"x" * (limit + 1)
        if len(body) > limit:
            raise BatchError(f"the body has more than the {limit:,} bytes one batch may "
                             "have: split it", status=413)
        return body

    def post(kind: str) -> Response:
        t0 = time.perf_counter()
        address = f"api:{_client()}"
        wait = token_wait_s(store, address)
        if wait > 0:  # checked before the token: a guess waits whether it is right or not
            DataAccess(store, user=FAILED_TOKEN_USER, client=_client()).audit(
                "api_ingest", layer=kind, outcome="denied",
                detail={"reason": "throttled", "wait_s": round(wait, 1)})
            seconds = max(1, math.ceil(wait))
            return _json({"error": f"too many failed token attempts from this address: try "
                                   f"again in {seconds} s"}, 429,
                         {"Retry-After": str(seconds)})
        token = lookup_token(store, _bearer())
        if token is None:
            if _bearer() is not None:  # a request without a token guesses nothing
                record_failed_token(store, address)
            DataAccess(store, user=FAILED_TOKEN_USER, client=_client()).audit(
                "api_ingest", layer=kind, outcome="denied",
                detail={"reason": "no token" if _bearer() is None else "unknown or revoked"})
            return _error("a valid API token is required: Authorization: Bearer TOKEN "
                          "(see `riskmap tokens create`)", 401)
        access = access_for(SimpleNamespace(username=token.user, regions=token.regions,
                                            districts=token.districts, client=_client()))
        if kind not in token.kinds:
            access.audit("api_ingest", layer=kind, outcome="denied",
                         detail={"reason": f"the token may post {', '.join(token.kinds)}"})
            return _error(f"this token may post {', '.join(token.kinds)}, not {kind}", 403)
        touch_token(store, token, _client())
        name = _batch_name(kind, token)
        try:
            batch_kind, data, n = parse_batch(_body())
            if n == 0:
                report = {"layer": kind, "input_rows": 0, "loaded": 0, "updated": 0,
                          "duplicates": 0, "quarantined": 0, "by_reason": {},
                          "by_precision": {}, "warnings": [], "seconds": 0.0}
                return _json({"batch": name, **report, "quarantined_rows": []})
            offset = 1 if batch_kind == "records" else 0  # CSV rows count the header
            scoped = _ScopedStore(store, access, offset)
            with tempfile.TemporaryDirectory(prefix="riskmap-api-") as folder:
                path = write_batch(batch_kind, data, Path(folder), name)
                try:  # one ingest_runs record per batch, as for a file (however it ends)
                    with recorded_run(store, user=f"token:{token.name}", client=token.name,
                                      layer=kind, path=path) as run:
                        result = _run_ingest(kind, path, scoped, settings)
                        run.report = result
                except RiskmapError as exc:
                    raise BatchError(str(exc).replace(f"{folder}/", "")) from None
        except BatchError as exc:
            access.audit("api_ingest", layer=kind, outcome="denied",
                         detail={"batch": name, "reason": str(exc)[:300]})
            return _error(str(exc), exc.status)
        except OutsideScope as exc:
            access.audit("api_ingest", layer=kind, outcome="denied",
                         detail={"batch": name, "reason": str(exc)}, rows=len(exc.rows))
            return _error(f"{exc}: nothing was loaded (the token's scope: "
                          f"{token.scope_text})", 403, rows=exc.rows[:MAX_LISTED])
        report = result.to_dict()
        for drop in ("file", "by_sheet"):
            report.pop(drop, None)
        report["seconds"] = round(time.perf_counter() - t0, 3)
        access.audit("api_ingest", layer=kind, rows=report["loaded"] + report["updated"],
                     detail={"batch": name, **{k: report[k] for k in (
                         "input_rows", "loaded", "updated", "duplicates", "quarantined")}})
        listed = sorted(scoped.quarantined, key=lambda r: (r["row"] is None, r["row"] or 0))
        return _json({"batch": name, **report, "quarantined_rows": listed[:MAX_LISTED]})

    def openapi() -> Response:
        return _json(OPENAPI)

    def not_found(rest: str) -> Response:
        return _error(f"no such API endpoint: {request.method} {API_PREFIX}/{rest[:80]}", 404)

    def wrong_method(kind: str) -> Response:
        return _error(f"use POST {API_PREFIX}/{kind}", 405)

    for kind in KINDS:
        server.add_url_rule(f"{API_PREFIX}/{kind}", f"riskmap_api_{kind}",
                            lambda kind=kind: _guarded(post, kind), methods=["POST"])
        server.add_url_rule(f"{API_PREFIX}/{kind}", f"riskmap_api_{kind}_get",
                            lambda kind=kind: wrong_method(kind), methods=["GET"])
    server.add_url_rule(f"{API_PREFIX}/openapi.json", "riskmap_api_openapi", openapi,
                        methods=["GET"])
    server.add_url_rule(f"{API_PREFIX}/<path:rest>", "riskmap_api_404", not_found,
                        methods=["GET", "POST", "PUT", "PATCH", "DELETE"])


def _guarded(view: Any, kind: str) -> Response:
    """``view(kind)``, answering an unexpected failure with one JSON line (the traceback goes
    to the log)."""
    try:
        return view(kind)
    except Exception:
        _LOG.exception("API %s %s failed", request.method, request.path)
        return _error("internal error: the batch was not loaded (the server log has the "
                      "details)", 500)
