"""Specs of the derived layers written by ``riskmap build`` (hotspots, coverage, zones).

They carry ``region`` (and ``mahalla_id``/``district`` where it applies), so the data-access
layer scopes them like the base layers.
"""

from __future__ import annotations

from riskmap.layers.spec import Column, LayerSpec, register_layer

__all__ = ["COVERAGE_SPECS", "HOTSPOT_SPECS", "INCREMENTAL_SPECS", "REVIEW_SPECS", "ZONE_SPECS"]


def _hotspot_specs() -> list[LayerSpec]:
    where = (Column("mahalla_id", "str"), Column("district", "str"), Column("region", "str"))
    gi = (Column("count", "int"), Column("gi_z", "float"), Column("gi_p", "float"),
          Column("gi_class", "str"), Column("trend", "str"), Column("status", "str"))
    specs = [
        LayerSpec(name="hotspots_h3", doc="Gi* hot spots, trend and status per H3 cell (res 5-9).",
                  columns=(Column("h3", "int", required=True), Column("res", "int"), *gi,
                           *where),
                  indexes=("res", "region")),
        LayerSpec(name="hotspots_mahalla", doc="Counts, rates, Gi*, trend and status per mahalla.",
                  columns=(Column("mahalla_id", "str", required=True), Column("name", "str"),
                           Column("district", "str"), Column("region", "str"),
                           Column("count", "int"), Column("rate", "float"),
                           *gi[1:], Column("why", "str")),
                  key="mahalla_id", indexes=("region",)),
        LayerSpec(name="mahalla_status", doc="Month-by-month mahalla status with a reason.",
                  columns=(Column("mahalla_id", "str", required=True),
                           Column("month", "timestamp", required=True),
                           Column("status", "str"), Column("why", "str"), Column("count", "int"),
                           Column("rate_per_1000", "float"), Column("gi_z", "float"),
                           Column("gi_class", "str"), Column("district", "str"),
                           Column("region", "str")),
                  indexes=("month", "region")),
        LayerSpec(name="kde_surface", doc="KDE risk surface as a base64 Cloud-Optimised GeoTIFF.",
                  columns=(Column("name", "str", required=True), Column("crs_wkt", "str"),
                           Column("transform", "str"), Column("width", "int"),
                           Column("height", "int"), Column("bandwidth_m", "float"),
                           Column("cell_m", "float"), Column("start", "timestamp"),
                           Column("end", "timestamp"), Column("cog", "str")),
                  key="name"),
    ]
    return specs


def _coverage_specs() -> list[LayerSpec]:
    where = (Column("mahalla_id", "str"), Column("district", "str"), Column("region", "str"))
    specs = [
        LayerSpec(name="camera_coverage", doc="Field of view of each active camera.",
                  columns=(Column("camera_id", "str", required=True),
                           Column("type", "str"), *where),
                  geometry_types=("Polygon", "MultiPolygon", "GeometryCollection"),
                  key="camera_id", extra_columns=True),
        LayerSpec(name="coverage_mahalla", doc="Camera coverage figures per mahalla.",
                  columns=(Column("mahalla_id", "str", required=True), Column("name", "str"),
                           Column("district", "str"), Column("region", "str")),
                  geometry_types=("Polygon", "MultiPolygon"), promote_to_multi=True,
                  key="mahalla_id", extra_columns=True),
        LayerSpec(name="coverage_h3", doc="Camera coverage and uncovered risk per H3 res-9 cell.",
                  columns=(Column("h3", "int", required=True), *where),
                  geometry_types=("Polygon",), extra_columns=True),
        LayerSpec(name="coverage_zones", doc="Camera coverage figures per tourist zone.",
                  columns=(Column("feature_id", "str", required=True), Column("name", "str"),
                           Column("district", "str"), Column("region", "str")),
                  geometry_types=("Polygon", "MultiPolygon"), promote_to_multi=True,
                  key="feature_id", extra_columns=True),
        LayerSpec(name="coverage_sites", doc="Key sites: covered or not, nearest camera.",
                  columns=(Column("site_id", "str", required=True),
                           Column("kind", "str", required=True), Column("name", "str"), *where),
                  geometry_types=("Point",), key="site_id", extra_columns=True),
    ]
    return specs


def _zone_specs() -> list[LayerSpec]:
    specs = [
        LayerSpec(name="zone_readiness", doc="Readiness checklist of each tourist zone.",
                  columns=(Column("zone", "str", required=True), Column("feature_id", "str"),
                           Column("item", "str", required=True), Column("ok", "bool"),
                           Column("value", "float"), Column("threshold", "float"),
                           Column("unit", "str"), Column("detail", "str"), Column("region", "str")),
                  extra_columns=True),
        LayerSpec(name="zone_isochrones", doc="Parts of each zone reached within 10/20/30 min.",
                  columns=(Column("zone", "str", required=True), Column("feature_id", "str"),
                           Column("minutes", "float", required=True),
                           Column("source_kind", "str", required=True),
                           Column("within", "float"), Column("region", "str")),
                  geometry_types=("Polygon", "MultiPolygon"), promote_to_multi=True,
                  extra_columns=True),
        LayerSpec(name="zone_figures", doc="Figures of each tourist zone (JSON).",
                  columns=(Column("zone", "str", required=True), Column("feature_id", "str"),
                           Column("figures", "str"), Column("region", "str")),
                  key="feature_id", extra_columns=True),
    ]
    return specs


HOTSPOT_SPECS = tuple(register_layer(s) for s in _hotspot_specs())
COVERAGE_SPECS = tuple(register_layer(s) for s in _coverage_specs())
ZONE_SPECS = tuple(register_layer(s) for s in _zone_specs())
#: review packs kept with their period (``riskmap review``, the ``review_pack`` job), so a
#: past pack opens again as it was
REVIEW_SPECS = (register_layer(LayerSpec(
    name="review_packs", doc="Review packs (HTML and JSON) of a region and period, as made.",
    columns=(Column("pack_id", "str", required=True), Column("region", "str", required=True),
             Column("period", "str", required=True), Column("generated_at", "timestamp"),
             Column("owner", "str"), Column("job_id", "str"), Column("html", "str"),
             Column("json", "str")),
    key="pack_id", indexes=("region", "period"))),)

#: what ``riskmap build`` needs to build incrementally (see :mod:`etl.incremental`): the marks
#: that writes of the base layers leave (:data:`layers.store.DIRTY`), what the last build
#: computed from, and the incident counts per unit and month it computes from
INCREMENTAL_SPECS = tuple(register_layer(s) for s in (
    LayerSpec(name="derived_dirty",
              doc="What writes of the base layers touched since the last build (one mark per "
                  "layer, month and region; month missing: the whole layer).",
              columns=(Column("mark_id", "str", required=True), Column("layer", "str"),
                       Column("month", "timestamp"), Column("region", "str"),
                       Column("marked_at", "timestamp")),
              key="mark_id"),
    LayerSpec(name="derived_state",
              doc="What each build step last computed from (parameters, windows), as JSON.",
              columns=(Column("step", "str", required=True), Column("state", "str"),
                       Column("built_at", "timestamp")),
              key="step"),
    LayerSpec(name="incident_cube_mahalla",
              doc="Incidents per mahalla and month (every category).",
              columns=(Column("mahalla_id", "str", required=True),
                       Column("month", "timestamp", required=True), Column("count", "int"),
                       Column("region", "str")),
              indexes=("month",)),
    LayerSpec(name="incident_cube_h3",
              doc="Incidents per H3 res-9 cell and month (categories with a place only).",
              columns=(Column("h3", "int", required=True),
                       Column("month", "timestamp", required=True), Column("count", "int"),
                       Column("region", "str")),
              indexes=("month",)),
    LayerSpec(name="study_units",
              doc="H3 study cells and their Gi* star sizes per resolution (a compressed NumPy "
                  "archive, base64), keyed by a digest of the mahalla layer they were made from.",
              columns=(Column("key", "str", required=True), Column("res", "int"),
                       Column("cells", "int"), Column("data", "str")),
              key="key"),
    LayerSpec(name="incident_months",
              doc="Incidents per month with the first and last time of occurrence.",
              columns=(Column("month", "timestamp", required=True), Column("count", "int"),
                       Column("first_at", "timestamp"), Column("last_at", "timestamp"))),
))
