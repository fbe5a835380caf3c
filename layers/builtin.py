"""The built-in layers, registered through the same call a user layer would use."""

from __future__ import annotations

from riskmap.layers.spec import Column, LayerSpec, register_layer

__all__ = ["API_TOKENS", "AUDIT", "CAMERAS", "INCIDENTS", "INCIDENT_ADDRESSES", "INFRASTRUCTURE",
           "INGEST_RUNS", "JOBS", "LOGIN_FAILURES", "MAHALLAS", "PLACE_ALIASES", "PLANNED_CAMERAS", "QUARANTINE",
           "ROADMAPS", "ROADMAP_MEASURES", "SESSIONS", "USERS"]

_POLY = ("Polygon", "MultiPolygon")

MAHALLAS = register_layer(LayerSpec(
    name="mahallas",
    doc="Mahalla (neighbourhood) polygons with names, district, region and population.",
    columns=(
        Column("mahalla_id", "str", required=True),
        Column("name", "str", required=True, doc="Uzbek Latin"),
        Column("name_cyrillic", "str", doc="Uzbek Cyrillic (optional)"),
        Column("district", "str", required=True),
        Column("region", "str", required=True),
        Column("population", "float"),
    ),
    geometry_types=_POLY,
    promote_to_multi=True,
    key="mahalla_id",
    indexes=("district", "region"),
))

INCIDENTS = register_layer(LayerSpec(
    name="incidents",
    doc="Recorded incidents geocoded onto H3 (res 9) and mahallas.",
    columns=(
        Column("incident_id", "str", required=True),
        Column("occurred_at", "timestamp", required=True),
        Column("category", "str", required=True),
        Column("h3", "int", required=True, doc="H3 cell at resolution 9 as a 64-bit integer"),
        Column("mahalla_id", "str", required=True),
        Column("district", "str"),
        Column("region", "str"),
        Column("geocode_precision", "str", required=True),
        Column("flags", "str", doc="comma-separated fix flags"),
        Column("source_file", "str"),
        Column("source_row", "int"),
        Column("content_hash", "int", doc="64-bit hash of the normalised content (re-ingest)"),
        # focus fields (riskmap.geo.focus): empty when the source does not say
        Column("victim_sex", "str", doc="'male' | 'female'"),
        Column("victim_age_group", "str", doc="'minor' (<18) | 'youth' (18-30) | 'adult' | "
                                              "'senior' (60+)"),
        Column("offender_sex", "str", doc="'male' | 'female'"),
        Column("offender_age_group", "str", doc="as victim_age_group"),
        Column("domestic", "bool", doc="a family (domestic) context"),
        Column("repeat_offender", "bool", doc="the offender offended before"),
        Column("on_probation", "bool", doc="the offender was on probation"),
    ),
    geometry_types=("Point",),
    key="incident_id",
    indexes=("h3", "mahalla_id", "occurred_at", "region"),
))

CAMERAS = register_layer(LayerSpec(
    name="cameras",
    doc="Surveillance cameras (existing and planned).",
    columns=(
        Column("camera_id", "str", required=True),
        Column("type", "str", required=True),
        Column("bearing_deg", "float"),
        Column("fov_deg", "float"),
        Column("range_m", "float"),
        Column("height_m", "float"),
        Column("installed_on", "date"),
        Column("status", "str"),
        Column("mahalla_id", "str"),
        Column("district", "str"),
        Column("region", "str"),
    ),
    geometry_types=("Point",),
    key="camera_id",
    indexes=("mahalla_id", "region"),
))

PLANNED_CAMERAS = register_layer(LayerSpec(
    name="planned_cameras",
    doc="Cameras proposed by the placement planner and accepted by a planner.",
    columns=(*CAMERAS.columns, Column("plan_id", "str"), Column("rank", "int"),
             Column("marginal_gain", "float"), Column("site_id", "str")),
    geometry_types=("Point",),
    key="camera_id",
    indexes=("plan_id", "region"),
))

INFRASTRUCTURE = register_layer(LayerSpec(
    name="infrastructure",
    doc="Points, lines and polygons with a kind: tourist zones, schools, roads, posts, ...",
    columns=(
        Column("feature_id", "str", required=True),
        Column("kind", "str", required=True),
        Column("name", "str"),
        Column("road_class", "str", doc="for roads: motorway|primary|secondary|tertiary|track"),
        Column("speed_kmh", "float", doc="for roads: travel speed, else derived from road_class"),
        Column("season_start", "str", doc="for zones: MM-DD"),
        Column("season_end", "str", doc="for zones: MM-DD"),
        Column("mahalla_id", "str"),
        Column("district", "str"),
        Column("region", "str"),
        Column("attrs", "str", doc="other properties as JSON"),
    ),
    geometry_types=("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                    "MultiPolygon"),
    key="feature_id",
    indexes=("kind", "region"),
))

QUARANTINE = register_layer(LayerSpec(
    name="quarantine",
    doc="Input rows that could not be loaded, with the original row and one reason code.",
    columns=(
        Column("quarantine_id", "str", required=True),
        Column("layer", "str", required=True),
        Column("source_file", "str"),
        Column("source_row", "int"),
        Column("reason", "str", required=True),
        Column("detail", "str"),
        Column("raw", "str", doc="the original row as JSON"),
        Column("quarantined_at", "timestamp"),
    ),
    key="quarantine_id",
))

AUDIT = register_layer(LayerSpec(
    name="audit",
    doc="Who read, wrote or exported what, from where, and how it ended: an append-only log. "
        "Each record carries the hash of the one before it (a chain: `riskmap audit verify` "
        "finds an edited or removed record); on PostGIS a trigger refuses UPDATE and DELETE.",
    columns=(
        Column("at", "timestamp", required=True),
        Column("user", "str", required=True),
        Column("action", "str", required=True),
        Column("layer", "str"),
        Column("scope", "str"),
        Column("detail", "str", doc="the request's values as JSON, bounded in size"),
        Column("rows", "int"),
        Column("client", "str", doc="the client's address (app, API) or 'cli'"),
        Column("outcome", "str", doc="'ok', 'denied' or 'failed'"),
        Column("seq", "int", doc="position in the chain, from 1"),
        Column("prev_hash", "str", doc="hash of the record before (64 zeros for the first)"),
        Column("hash", "str", doc="SHA-256 of this record's fields and prev_hash"),
    ),
))

USERS = register_layer(LayerSpec(
    name="users",
    doc="People who may log in to the app: role, scope, Argon2id password hash, lock-out.",
    columns=(
        Column("username", "str", required=True),
        Column("display_name", "str"),
        Column("role", "str", required=True),
        Column("regions", "str", doc="JSON list of regions; empty list: every region"),
        Column("districts", "str", doc="JSON list of districts within them (optional)"),
        Column("suppressed_elsewhere", "bool",
               doc="outside the scope, see suppressed figures instead of nothing"),
        Column("password_hash", "str", doc="Argon2id; empty for directory (LDAP) users"),
        Column("source", "str", required=True, doc="'local' or 'ldap'"),
        Column("disabled", "bool", required=True),
        Column("locked_until", "timestamp"),
        Column("created_at", "timestamp", required=True),
        Column("updated_at", "timestamp", required=True),
        Column("language", "str", doc="the app's language the user chose (uz_Latn, uz_Cyrl, ru, "
               "en); empty: the browser's"),
    ),
    key="username",
))

SESSIONS = register_layer(LayerSpec(
    name="sessions",
    doc="Logged-in sessions (shared by every app worker); the cookie's token only as SHA-256.",
    columns=(
        Column("token_hash", "str", required=True),
        Column("username", "str", required=True),
        Column("created_at", "timestamp", required=True),
        Column("expires_at", "timestamp", required=True),
        Column("last_seen", "timestamp", required=True),
        Column("client", "str"),
        Column("csrf", "str", doc="the form token of this session"),
    ),
    key="token_hash",
    indexes=("username",),
))

JOBS = register_layer(LayerSpec(
    name="jobs",
    doc="Long work run by a worker process with memory and time limits (camera plans, "
        "reports, packs, exports, builds): state, progress and result, shared by every app "
        "worker.",
    columns=(
        Column("job_id", "str", required=True),
        Column("kind", "str", required=True, doc="what runs, e.g. 'plan_cameras'"),
        Column("owner", "str", required=True, doc="the user who started it"),
        Column("region", "str", doc="the region it works on (scoped users see their own)"),
        Column("dedupe_key", "str", doc="same kind, owner and parameters: one running copy"),
        Column("params", "str", doc="JSON"),
        Column("status", "str", required=True,
               doc="queued, running, done, failed, cancel_requested, cancelled, refused"),
        Column("progress", "float", doc="0..1"),
        Column("message", "str", doc="what it is doing, or why it failed or was refused"),
        Column("created_at", "timestamp", required=True),
        Column("started_at", "timestamp"),
        Column("finished_at", "timestamp"),
        Column("worker", "str", doc="host:pid of the worker running it"),
        Column("heartbeat", "timestamp", doc="last sign of life of the running job"),
        Column("result", "str", doc="JSON (bounded); large results go to a layer"),
    ),
    key="job_id",
    indexes=("status", "owner", "dedupe_key"),
))

INGEST_RUNS = register_layer(LayerSpec(
    name="ingest_runs",
    doc="One record per load of a file (`riskmap ingest`, `riskmap watch`, the container "
        "loader, the demo): who, which file (its name, size and SHA-256, never a path), when, "
        "how it ended, its counts and its report.",
    columns=(
        Column("run_id", "str", required=True),
        Column("started_at", "timestamp", required=True),
        Column("ended_at", "timestamp"),
        Column("user", "str", required=True, doc="the user the load ran as"),
        Column("client", "str", doc="'cli', 'watch', 'demo', or the app client's address"),
        Column("layer", "str", required=True, doc="the layer loaded"),
        Column("file_name", "str", doc="the file's name, without its folder"),
        Column("file_size", "int", doc="bytes"),
        Column("file_sha256", "str"),
        Column("outcome", "str", required=True,
               doc="'ok', 'failed' (nothing was changed) or 'refused' (the file or the "
                   "options were refused before loading)"),
        Column("input_rows", "int"),
        Column("loaded", "int"),
        Column("updated", "int"),
        Column("duplicates", "int"),
        Column("quarantined", "int"),
        Column("by_reason", "str", doc="quarantined rows by reason, e.g. 'invalid_date 3, "
                                       "no_location 1'"),
        Column("error", "str", doc="why it failed or was refused (bounded)"),
        Column("summary", "str", doc="the lines `riskmap ingest` prints (bounded)"),
        Column("report", "str", doc="the JSON report of `riskmap ingest --report` (bounded)"),
    ),
    key="run_id",
    indexes=("started_at", "outcome", "file_name"),
))

LOGIN_FAILURES = register_layer(LayerSpec(
    name="login_failures",
    doc="Recent failed logins (user name tried and client address), for throttling.",
    columns=(
        Column("failure_id", "str", required=True),
        Column("at", "timestamp", required=True),
        Column("username", "str"),
        Column("client", "str"),
    ),
    key="failure_id",
    indexes=("username", "client"),
))

PLACE_ALIASES = register_layer(LayerSpec(
    name="place_aliases",
    doc="Names and addresses tied to a mahalla (or only a district) by an analyst or a file; "
        "the gazetteer of every later incident load uses them.",
    columns=(
        Column("alias_key", "str", required=True,
               doc="the alias as the gazetteer compares whole texts (script, case, "
                   "apostrophes and punctuation set aside), its district and its region, "
                   "each written so, joined by '|'"),
        Column("alias", "str", required=True, doc="the alias as written"),
        Column("mahalla_id", "str", doc="empty for an alias that names only a district"),
        Column("district", "str", required=True, doc="the mahalla's (or the named) district"),
        Column("region", "str", required=True, doc="its region: scoped users see their own"),
        Column("created_by", "str", required=True, doc="the user who chose or loaded it"),
        Column("created_at", "timestamp", required=True),
        Column("source", "str", doc="'app' (the Rematch page) or the file it was loaded from"),
    ),
    key="alias_key",
    indexes=("mahalla_id", "region"),
))

INCIDENT_ADDRESSES = register_layer(LayerSpec(
    name="incident_addresses",
    doc="The location text of incidents loaded at district precision, kept so that an "
        "analyst can place them in a mahalla (the Rematch page).",
    columns=(
        Column("incident_id", "str", required=True),
        Column("address", "str", doc="the address as written, else the mahalla column"),
        Column("location", "str",
               doc="the row's address, mahalla, district and region fields as JSON"),
        Column("district", "str", doc="the district the row was placed in"),
        Column("region", "str"),
        Column("source_file", "str"),
        Column("source_row", "int"),
        Column("recorded_at", "timestamp"),
    ),
    key="incident_id",
    indexes=("region",),
))

API_TOKENS = register_layer(LayerSpec(
    name="api_tokens",
    doc="Tokens of the systems that post live feeds to the ingest API (`riskmap tokens`): the "
        "token only as SHA-256, its scope and what it may post.",
    columns=(
        Column("name", "str", required=True, doc="the system's name (token:<name> in the audit)"),
        Column("token_hash", "str", required=True, doc="SHA-256 of the token (shown once)"),
        Column("regions", "str", doc="JSON list of regions; empty list: every region"),
        Column("districts", "str", doc="JSON list of districts within them (optional)"),
        Column("kinds", "str", required=True,
               doc="what it may post, comma-separated: incidents, cameras"),
        Column("created_by", "str"),
        Column("created_at", "timestamp", required=True),
        Column("revoked_at", "timestamp", doc="empty while the token is valid"),
        Column("last_used_at", "timestamp", doc="written at most once a minute"),
        Column("last_used_from", "str", doc="the client's address at that use"),
    ),
    key="name",
    indexes=("token_hash",),
))

ROADMAPS = register_layer(LayerSpec(
    name="roadmaps",
    doc="Red-mahalla roadmaps: one per mahalla and opening, with the responsible official, the "
        "mahalla seven and, once the mahalla has left red, the figures that show it.",
    columns=(
        Column("roadmap_id", "str", required=True, doc="'<mahalla_id>@<YYYY-MM of opening>'"),
        Column("mahalla_id", "str", required=True),
        Column("region", "str", required=True),
        Column("district", "str", required=True),
        Column("opened_at", "timestamp", required=True),
        Column("opened_month", "timestamp", doc="the status month whose red opened it"),
        Column("opened_because", "str", doc="the red status's 'why' at opening"),
        Column("opened_by", "str"),
        Column("official_name", "str", doc="the responsible official (sector leader)"),
        Column("official_position", "str"),
        Column("official_phone", "str"),
        Column("members", "str", doc="the mahalla seven as JSON: [{role, name, phone}]"),
        Column("status", "str", required=True, doc="'open' or 'closed'"),
        Column("closed_at", "timestamp"),
        Column("closed_figures", "str",
               doc="JSON: the status, count and rate at opening and at closing"),
        Column("updated_at", "timestamp"),
        Column("updated_by", "str"),
    ),
    key="roadmap_id",
    indexes=("mahalla_id", "region", "status"),
))

ROADMAP_MEASURES = register_layer(LayerSpec(
    name="roadmap_measures",
    doc="Measures of the roadmaps: owner, due date, status and notes.",
    columns=(
        Column("measure_id", "str", required=True),
        Column("roadmap_id", "str", required=True),
        Column("mahalla_id", "str", required=True),
        Column("region", "str", required=True),
        Column("district", "str", required=True),
        Column("title", "str", required=True),
        Column("owner", "str"),
        Column("due_date", "date"),
        Column("status", "str", required=True,
               doc="'planned', 'in_progress', 'done' or 'cancelled'"),
        Column("notes", "str"),
        Column("updated_at", "timestamp"),
        Column("updated_by", "str"),
    ),
    key="measure_id",
    indexes=("roadmap_id", "mahalla_id", "region"),
))
