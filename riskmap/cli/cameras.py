"""``riskmap plan cameras`` (placement planner) and ``riskmap export coverage`` (coverage figures)."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from riskmap.cli.common import (
    echo_json,
    fail_cleanly,
    open_from,
    settings_from,
    store_option,
    write_text_atomic,
)
from riskmap.cli.export import access_for, export, format_option, region_option, write_frame
from riskmap.errors import ConfigError

__all__ = ["COMMANDS", "export_coverage", "plan", "plan_cameras_cmd"]

#: export columns per level (geometry added for GeoJSON); the rest of the layer follows
_LEADING = {
    "mahalla": ["mahalla_id", "name", "district", "region", "area_covered_pct",
                "incidents_covered_pct", "risk_covered_pct", "incidents", "incidents_covered",
                "risk", "risk_covered", "cameras", "cameras_face_recognition",
                "cameras_traffic", "cameras_licence_plate", "cameras_overview"],
    "h3": ["rank", "h3_hex", "covered_pct", "risk", "gap", "incidents", "mahalla_id", "district",
           "region"],
    "zone": ["feature_id", "name", "district", "region", "area_covered_pct",
             "incidents_covered_pct", "risk_covered_pct", "cameras"],
    "site": ["site_id", "kind", "covered", "nearest_camera_m", "nearest_camera", "n_cameras",
             "name", "mahalla_id", "district", "region"],
    "camera": ["camera_id", "type", "mahalla_id", "district", "region"],
}
_DROP = ("area_share", "incident_share", "risk_share", "covered_share", "h3")


@export.command("coverage")
@store_option
@click.option("--level", type=click.Choice(["mahalla", "h3", "site", "zone", "camera"]),
              default="mahalla", show_default=True,
              help="mahalla: figures per mahalla; h3: per H3 res-9 cell ranked by uncovered "
                   "risk (the gaps); site: key sites covered or not; zone: tourist zones; "
                   "camera: coverage polygons.")
@format_option(("csv", "geojson", "parquet"))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="Output file.")
@region_option
@click.option("--top", type=click.IntRange(min=1), default=None,
              help="Only the first N rows (h3: the N largest gaps).")
@fail_cleanly
def export_coverage(store_url: str | None, level: str, fmt: str, out: Path,
                    regions: tuple[str, ...], top: int | None) -> None:
    """Write camera coverage figures built by `riskmap build --only coverage`.

    Mahallas: area_covered_pct, incidents_covered_pct (last 12 months, spatial categories,
    incidents with coordinates), risk_covered_pct and cameras per type. Sites: site_id, kind,
    covered, nearest_camera_m. H3: cells ranked by risk x (1 - covered share).
    """
    import geopandas as gpd

    import riskmap.etl.derive_coverage as dc

    layer = dc.COVERAGE_LAYERS[level]
    settings = settings_from(store_url)
    with open_from(settings) as store:
        if not store.has(layer):
            raise ConfigError(f"the store has no {layer!r} layer: run "
                              "`riskmap build --only coverage` first")
        frame = access_for(store, settings, regions).read(layer, purpose="export")
    if level == "h3":
        frame = frame.sort_values("rank", ignore_index=True)
    if top is not None:
        frame = frame.head(top)
    lead = [c for c in _LEADING[level] if c in frame.columns]
    rest = [c for c in frame.columns if c not in lead and c != "geometry" and c not in _DROP]
    table = pd.DataFrame(frame[lead + rest]).reset_index(drop=True)
    if fmt == "geojson":
        table = gpd.GeoDataFrame(table, geometry=frame.geometry.to_numpy(), crs=4326)
    write_frame(table, out, fmt)
    click.echo(f"wrote {len(table)} {level} rows to {out}")


@click.group()
def plan() -> None:
    """Plan new infrastructure: camera placement (maximal risk coverage)."""


def _parse_costs(items: tuple[str, ...]) -> dict[str, float] | None:
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{item!r}: expected TYPE=PRICE, e.g. overview=1200",
                                     param_hint="--cost")
    return out


@plan.command("cameras")
@store_option
@click.option("--budget", type=click.IntRange(min=1), default=None,
              help="Number of new cameras (k).")
@click.option("--area", "areas", multiple=True,
              help="Region, district, mahalla name or id (repeatable; default: everything in "
                   "scope).")
@click.option("--candidates", default=",".join(("bus_stop", "school", "market", "station",
                                                 "intersection", "entrance")),
              show_default=True,
              help="Candidate site kinds, comma-separated: infrastructure kinds (bus_stop, "
                   "school, market, station, ...), intersection, entrance, or grid.")
@click.option("--types", default=None,
              help="Camera types to consider, comma-separated (default: all four: "
                   "face_recognition, traffic, licence_plate, overview).")
@click.option("--cost", "costs", multiple=True, metavar="TYPE=PRICE",
              help="Price of a camera type (repeatable; needs --money-budget).")
@click.option("--money-budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Money available for new cameras (with --cost for every type).")
@click.option("--risk", type=click.Choice(["counts", "kde"]), default="counts",
              show_default=True,
              help="counts: incidents of the last --months per H3 res-9 cell (spatial "
                   "categories); kde: the store's kde/forecast layer.")
@click.option("--months", type=click.IntRange(1, 120), default=12, show_default=True,
              help="Incident window for --risk counts, ending at the latest incident.")
@click.option("--all-precisions", is_flag=True,
              help="Also count incidents located only to a mahalla (placed at its "
                   "representative point); by default only incidents with coordinates count.")
@click.option("--exact/--no-exact", default=None,
              help="Also solve the exact MILP (default: automatically when there are <= 2,000 "
                   "candidates and <= 20 cameras).")
@click.option("--bearings", type=click.IntRange(1, 36), default=8, show_default=True,
              help="Bearings tried per directional camera.")
@click.option("--time-limit", type=click.FloatRange(min=1), default=60, show_default=True,
              help="Seconds allowed to the MILP.")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="The plan as GeoJSON points.")
@click.option("--summary", "summary_out", type=click.Path(path_type=Path), default=None,
              help="Write the summary (before/after coverage, curve, timing) as JSON here.")
@click.option("--csv", "csv_out", type=click.Path(path_type=Path), default=None,
              help="Also write the plan as CSV with lon/lat (for field teams).")
@fail_cleanly
def plan_cameras_cmd(store_url: str | None, budget: int | None, areas: tuple[str, ...],
                     candidates: str, types: str | None, costs: tuple[str, ...],
                     money_budget: float | None, risk: str, months: int, all_precisions: bool,
                     exact: bool | None, bearings: int, time_limit: float, out: Path,
                     summary_out: Path | None, csv_out: Path | None) -> None:
    """Propose new camera positions that cover the most risk (MCLP), keeping existing cameras.

    Demand is the risk per H3 res-9 cell (split over res-12 children); a candidate covers what
    its field-of-view polygon covers. The plan is written as GeoJSON points with site_id, type,
    bearing_deg, fov_deg, range_m and marginal_gain (non-increasing); the summary holds budget,
    covered_risk_before, covered_risk_after (shares of total risk), seconds and optimality_gap.
    """
    from riskmap.etl.planning import load_plan_frames, plan_cameras

    if budget is None and money_budget is None:
        raise click.UsageError("give --budget K, or --money-budget with --cost TYPE=PRICE")
    settings = settings_from(store_url)
    area = list(areas) or None
    with open_from(settings) as store:
        access = access_for(store, settings)
        frames = load_plan_frames(access, area=area, risk=risk, purpose="plan")
    result = plan_cameras(
        frames, area=area, budget=budget,
        types=[t.strip() for t in types.split(",") if t.strip()] if types else None,
        candidates=candidates, costs=_parse_costs(costs), money_budget=money_budget,
        exact=exact, risk=risk, months=months, precise_only=not all_precisions,
        bearings=bearings, time_limit=time_limit)
    write_text_atomic(out, result.to_geojson())
    if csv_out is not None:
        write_frame(result.table(), csv_out, "csv")
    if summary_out is not None:
        write_text_atomic(summary_out, result.summary_json())
    s = result.summary
    click.echo(f"{s['n_cameras']} cameras proposed ({s['method']}); covered risk "
               f"{_pct(s['covered_risk_before'])} -> {_pct(s['covered_risk_after'])}; "
               f"wrote {out}", err=True)
    echo_json({k: s.get(k) for k in ("plan_id", "budget", "n_cameras", "covered_risk_before",
                                     "covered_risk_after", "optimality_gap", "seconds")})


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"



COMMANDS = [plan]
