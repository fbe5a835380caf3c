"""The built-in layers, registered through the same call a user layer would use."""

from __future__ import annotations

from riskmap.layers.spec import Column, LayerSpec, register_layer

__all__ = ["AUDIT", "CAMERAS", "INCIDENTS", "INFRASTRUCTURE", "MAHALLAS", "PLANNED_CAMERAS",
           "QUARANTINE"]

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
    doc="Who read what, through the data-access layer.",
    columns=(
        Column("at", "timestamp", required=True),
        Column("user", "str", required=True),
        Column("action", "str", required=True),
        Column("layer", "str"),
        Column("scope", "str"),
        Column("detail", "str"),
        Column("rows", "int"),
    ),
))
