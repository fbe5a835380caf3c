"""Specs of the derived layers written by ``riskmap build`` (hotspots, coverage, zones).

They carry ``region`` (and ``mahalla_id``/``district`` where it applies), so the data-access
layer scopes them like the base layers.
"""

from __future__ import annotations

from riskmap.layers.spec import Column, LayerSpec, register_layer

__all__ = ["COVERAGE_SPECS", "HOTSPOT_SPECS", "ZONE_SPECS"]


def _hotspot_specs() -> list[LayerSpec]:
    where = (Column("mahalla_id", "str"), Column("district", "str"), Column("region", "str"))
    gi = (Column("count", "int"), Column("gi_z", "float"), Column("gi_p", "float"),
          Column("gi_class", "str"), Column("trend", "str"), Column("status", "str"))
    specs = [
        LayerSpec(name="hotspots_h3", doc="Gi* hot spots, trend and status per H3 cell (7-9).",
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
