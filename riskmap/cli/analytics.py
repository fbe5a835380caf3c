"""``riskmap evaluate``, ``riskmap export hotspots`` and ``riskmap export kde``: hotspot analytics."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from riskmap.cli.common import fail_cleanly, open_from, settings_from, store_option
from riskmap.cli.export import access_for, export, format_option, region_option, write_frame

__all__ = ["COMMANDS", "evaluate", "export_hotspots", "export_kde", "format_evaluation",
           "hotspots_export_table"]

_TZ = "Asia/Tashkent"
_INCIDENT_COLUMNS = ["h3", "mahalla_id", "occurred_at", "category", "region"]


def _window(date_from: str | None, date_to: str | None) -> tuple[Any, Any]:
    """[start, end) from inclusive local (Tashkent) days."""
    start = pd.Timestamp(date_from, tz=_TZ).tz_convert("UTC") if date_from else None
    end = ((pd.Timestamp(date_to, tz=_TZ) + pd.Timedelta(days=1)).tz_convert("UTC")
           if date_to else None)
    return start, end


def _read_inputs(access: Any, purpose: str, *, geometry: bool = False) -> tuple[Any, Any]:
    cols = _INCIDENT_COLUMNS + (["geometry"] if geometry else [])
    incidents = access.read("incidents", columns=cols, purpose=purpose)
    mahallas = access.read("mahallas", purpose=purpose)
    if len(mahallas) == 0:
        raise click.ClickException("the store has no mahallas: run `riskmap ingest mahallas`")
    return incidents, mahallas


# --------------------------------------------------------------------------- evaluate


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None or not math.isfinite(float(value)) else format(float(value), spec)


def _chosen_lines(report: dict[str, Any]) -> list[str]:
    from riskmap.geo.forecast import describe_params

    chosen = report.get("chosen") or {}
    tuned = {m: c for m, c in chosen.items() if c.get("params")}
    lines = ["parameters (chosen on the history before each cut-off by a rolling backtest):"
             ] if tuned else []
    for m, c in tuned.items():
        text = describe_params(c["params"])
        if not c.get("tuned"):
            text += " (defaults: too little history to tune)" if c.get("candidates", 1) > 1 \
                else " (fixed)"
        else:
            text += (f"  [inner PAI {_fmt(c.get('inner_score'))} over {c.get('inner_folds')} "
                     f"folds, {c.get('candidates')} candidates]")
        per_fold = c.get("per_fold") or []
        if len({tuple(sorted(p.items(), key=str)) for p in per_fold}) > 1:
            text += "; per fold: " + " | ".join(describe_params(p) for p in per_fold)
        fit = c.get("fit")
        if fit and fit.get("offspring") is not None and fit["offspring"] < 1e-3:
            text += "; fitted: no triggering (all background)"
        elif fit and fit.get("offspring") is not None:
            days = fit["trigger_days"]
            decay = (f"{_fmt(days * 24, '.1f')} h" if days is not None and days < 1
                     else f"{_fmt(days, '.1f')} d")
            text += (f"; fitted: {_fmt(fit['offspring'], '.3f')} offspring per incident, "
                     f"decay {decay}, spread "
                     f"{_fmt(fit['trigger_m'], '.0f')} m, background share "
                     f"{_fmt(fit['background_share'], '.2f')}")
        lines.append(f"  {m:<12} {text}")
    rec = report.get("recommended") or {}
    if rec.get("method"):
        pai = ", ".join(f"{float(c):.0%} {_fmt(v)}" for c, v in rec.get("pai", {}).items())
        per_fold = rec.get("per_fold") or []
        lines.append(f"recommended (best inner PAI, chosen without the scored period): "
                     f"{rec['method']} (inner PAI {_fmt(rec.get('inner_score'))})"
                     + (f", per fold {' | '.join(map(str, per_fold))}"
                        if len(set(per_fold)) > 1 else "")
                     + f"; its PAI here: {pai}")
    return lines


def _cell(row: dict[str, Any], key: str, spec: str, *, spread: bool) -> str:
    text = _fmt(row.get(key), spec)
    if spread:
        text += "±" + _fmt(row.get(f"{key}_std"), spec)
    if f"{key}_lo" in row:
        text += f" [{_fmt(row.get(f'{key}_lo'), spec)}, {_fmt(row.get(f'{key}_hi'), spec)}]"
    return text


def _verdict_line(cov: str, b: dict[str, Any], level: str) -> str:
    where = f"at {float(cov):.0%} of the area"
    leader = b.get("leader") or b.get("method")
    if b.get("beats_counts") is None:
        return f"best {where}: {leader} (PAI {_fmt(b.get('pai'))}; counts not scored)"
    diff = (f"{_fmt(b.get('diff'), '+.2f')} [{_fmt(b.get('diff_lo'), '+.2f')}, "
            f"{_fmt(b.get('diff_hi'), '+.2f')}]")
    if b["beats_counts"]:
        return (f"best {where}: {b['method']} (PAI {_fmt(b.get('pai'))}), beats all-history "
                f"counts (PAI {_fmt(b.get('counts_pai'))}) by {diff} ({level} interval)")
    return (f"best {where}: none beats all-history counts (PAI {_fmt(b.get('counts_pai'))}); "
            f"leader {leader} (PAI {_fmt(b.get('pai'))}) differs by {diff}, "
            f"interval not above 0: use counts")


def format_evaluation(report: dict[str, Any]) -> str:
    """A readable evaluation report: chosen parameters, figures with intervals, verdicts.

    Each figure reads ``value [low, high]``, the bootstrap interval from resampling the
    test incidents; with several folds ``mean±std [low, high]``. The last lines name the
    best method at each coverage only when it beats all-history counts (paired bootstrap
    interval of the PAI difference above 0), and say so otherwise.
    """
    rows = report["methods"]
    multi = any("pai_std" in r for r in rows)
    boot = report.get("bootstrap") or {}
    level = f"{float(boot.get('confidence', 0.95)):.0%}"
    width = 30 if multi else 22
    head = (f"{'method':<12} {'coverage':>8} {'hit rate':>{width}} {'PAI':>{width}} "
            f"{'PEI*':>{width}}")
    lines = [
        f"level {report.get('level')}"
        + (f" res {report['res']}" if report.get("res") is not None else "")
        + f", horizon {report.get('horizon_days')} days, cut-off(s) "
        + ", ".join(report.get("cutoffs", []))
        + f", {report['test_incidents']} test incidents",
        *_chosen_lines(report),
        "",
        head,
        "-" * len(head),
    ]
    for r in rows:
        cells = [f"{_cell(r, k, spec, spread=multi):>{width}}"
                 for k, spec in (("hit_rate", ".3f"), ("pai", ".2f"), ("pei", ".3f"))]
        lines.append(f"{r['method']:<12} {r['coverage']:>7.0%} " + " ".join(cells))
    if boot.get("replicates"):
        lines.append(f"[low, high]: {level} bootstrap interval, {boot['replicates']} "
                     "resamples of the test incidents"
                     + (" (of the mean over folds)" if multi else ""))
    lines.append("")
    for cov, b in report.get("best", {}).items():
        lines.append(_verdict_line(cov, b, level))
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


@click.command()
@store_option
@click.option("--cutoff", default=None, metavar="YYYY-MM-DD",
              help="Forecast date (UTC midnight); with --folds, the last one. Default: "
                   "--horizon-days before the latest incident.")
@click.option("--horizon-days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="Test window after each cut-off.")
@click.option("--folds", type=click.IntRange(1, 24), default=1, show_default=True,
              help="Rolling backtest over this many cut-offs, --horizon-days apart.")
@click.option("--level", type=click.Choice(["h3", "mahalla"]), default="h3", show_default=True,
              help="Units the forecast ranks.")
@click.option("--res", type=click.IntRange(5, 9), default=9, show_default=True,
              help="H3 resolution (level h3).")
@click.option("--category", "categories", multiple=True, help="Only these categories.")
@click.option("--include-non-spatial", is_flag=True,
              help="Also use cybercrime and fraud (victim's mahalla) on H3 cells.")
@click.option("--lookback-days", type=click.IntRange(7, 3650), default=None,
              help="Fix the history the kde and gi methods use (default: tuned; 365 with "
                   "--no-tune).")
@click.option("--bandwidth-m", type=click.FloatRange(min=10), default=None,
              help="Fix the kde bandwidth (default: tuned; the settings' geo.kde_bandwidth_m "
                   "with --no-tune).")
@click.option("--no-tune", is_flag=True,
              help="Use fixed parameters instead of choosing them by a rolling backtest on "
                   "the history before each cut-off.")
@click.option("--bootstrap", "replicates", type=click.IntRange(0, 100_000), default=1000,
              show_default=True, help="Bootstrap resamples of the test incidents for the "
                                      "intervals (0: none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Write the figures as JSON here.")
@region_option
@fail_cleanly
def evaluate(store_url: str | None, cutoff: str | None, horizon_days: int, folds: int,
             level: str, res: int, categories: tuple[str, ...], include_non_spatial: bool,
             lookback_days: int | None, bandwidth_m: float | None, no_tune: bool,
             replicates: int, seed: int, report_path: Path | None,
             regions: tuple[str, ...]) -> None:
    """Backtest the hotspot forecasts: hit rate, PAI and PEI* at 1, 2, 5 and 10 % of the area.

    Methods: naive (counts of the last --horizon-days), kde (Gaussian kernel density with
    time decay), gi (Gi* z of counts), near_repeat (short-term decaying kernel), blend
    (long-term plus recent density) and sepp (self-exciting point process fitted by EM);
    baselines: counts (all-history counts) and kde_200m (plain 200 m KDE of all history).
    Each method's parameters are chosen by a rolling backtest on the history before the
    cut-off (the scored period is never seen) and printed. Each method ranks the units from
    data before the cut-off and is scored on the incidents of the next --horizon-days, with
    bootstrap intervals from resampling those incidents. A best method is named only when it
    beats all-history counts. With --folds K > 1 the figures are means over K cut-offs with
    their standard deviation. Cybercrime and fraud are left out on H3 cells unless
    --include-non-spatial.
    """
    from riskmap.etl.hotspots_job import evaluate as run_evaluation
    from riskmap.geo.forecast import ForecastGrid, ForecastParams

    settings = settings_from(store_url)
    params = ForecastParams(lookback_days=lookback_days or 365,
                            gi_lookback_days=lookback_days or 365,
                            bandwidth_m=bandwidth_m or float(settings.geo.kde_bandwidth_m))
    grid = ForecastGrid()
    if lookback_days is not None:
        grid = grid.fix(lookback_days=lookback_days, gi_lookback_days=lookback_days)
    if bandwidth_m is not None:
        grid = grid.fix(bandwidth_m=bandwidth_m)
    with open_from(settings) as store:
        incidents, mahallas = _read_inputs(access_for(store, settings, regions), "report")
    try:
        report = run_evaluation(incidents, mahallas, level=level, res=res, cutoff=cutoff,
                                horizon_days=horizon_days, folds=folds,
                                categories=list(categories) or None,
                                include_non_spatial=include_non_spatial, params=params,
                                tune=not no_tune, grid=grid, replicates=replicates, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(format_evaluation(report))
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = report_path.with_name(f".{report_path.name}.tmp")
        tmp.write_text(json.dumps(_jsonable(report), indent=2, ensure_ascii=False),
                       encoding="utf-8")
        tmp.replace(report_path)
        click.echo(f"wrote {report_path}")


# --------------------------------------------------------------------------- export hotspots


def hotspots_export_table(table: pd.DataFrame, mahallas: Any, *, level: str, res: int,
                          geometry: bool = False) -> pd.DataFrame:
    """The export columns: ``id`` (H3 hex or mahalla_id), figures, and names for mahallas.

    H3 rows are limited to cells that carry information (an incident in the window, a
    significant Gi* class, an emerging pattern or a non-green status). With ``geometry`` a
    GeoDataFrame with the cell hexagons or mahalla polygons is returned.
    """
    import geopandas as gpd

    from riskmap.geo.h3index import cell_polygons, cells_to_hex

    cols = ["count", "rate", "gi_z", "gi_p", "gi_q", "gi_class", "trend", "status", "why"]
    if level == "h3":
        keep = ((table["count"] > 0) | (table["gi_class"] != "not_significant")
                | (table["trend"] != "no_pattern") | (table["status"] != "green"))
        table = table[keep.fillna(True).to_numpy(dtype=bool)].reset_index(drop=True)
        cells = table["id"].to_numpy(np.int64)
        out = pd.DataFrame({"id": cells_to_hex(cells), "res": res, **{c: table[c] for c in cols}})
        geoms = cell_polygons(cells) if geometry else None
    else:
        m = mahallas.reset_index(drop=True)
        out = pd.DataFrame({"id": table["id"].to_numpy(), **{c: table[c].to_numpy() for c in cols}})
        for c in ("name", "district", "region"):
            out[c] = m[c].to_numpy() if c in m else None
        geoms = m.geometry.to_numpy() if geometry else None
    if geometry:
        return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=4326))
    return out


@export.command("hotspots")
@store_option
@click.option("--level", type=click.Choice(["h3", "mahalla"]), default="h3", show_default=True,
              help="Units: H3 cells or mahallas.")
@click.option("--res", type=click.IntRange(5, 9), default=9, show_default=True,
              help="H3 resolution (level h3).")
@click.option("--from", "date_from", default=None, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Last day (YYYY-MM-DD), inclusive.")
@click.option("--category", "categories", multiple=True, help="Only these categories.")
@click.option("--include-non-spatial", is_flag=True,
              help="Also count cybercrime and fraud (victim's mahalla) on H3 cells.")
@click.option("--no-fdr", is_flag=True, help="Classify from raw p instead of FDR q-values.")
@format_option(("csv", "geojson"))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="Output file.")
@region_option
@fail_cleanly
def export_hotspots(store_url: str | None, level: str, res: int, date_from: str | None,
                    date_to: str | None, categories: tuple[str, ...], include_non_spatial: bool,
                    no_fdr: bool, fmt: str, out: Path, regions: tuple[str, ...]) -> None:
    """Write counts, rates, Gi* hot/cold spots, trend and status per H3 cell or mahalla.

    Columns: id (H3 hex or mahalla_id), count, rate (per 1,000 residents; mahallas only),
    gi_z, gi_p, gi_q (FDR), gi_class (hot/cold at 90/95/99 %), trend (emerging hot spot
    class over the 12 months before --to), status (green/yellow/red) and why; mahallas add
    name, district and region. Without --from/--to the window is the last 12 full months
    of data. H3 cells without incidents or any finding are left out. GeoJSON carries the
    hexagons or mahalla polygons.
    """
    from riskmap.etl.hotspots_job import default_window, hotspot_table

    settings = settings_from(store_url)
    start, end = _window(date_from, date_to)
    with open_from(settings) as store:
        incidents, mahallas = _read_inputs(access_for(store, settings, regions), "export")
    if start is None and end is None:
        start, end = default_window(incidents, int(settings.geo.status_months))
    table = hotspot_table(incidents, mahallas, level=level, res=res, start=start, end=end,
                          categories=list(categories) or None,
                          include_non_spatial=include_non_spatial,
                          fdr=not no_fdr and bool(settings.geo.fdr))
    frame = hotspots_export_table(table, mahallas, level=level, res=res,
                                  geometry=fmt == "geojson")
    write_frame(frame, out, fmt)
    click.echo(f"wrote {len(frame)} {'cells' if level == 'h3' else 'mahallas'} to {out}")


# --------------------------------------------------------------------------- export kde


@export.command("kde")
@store_option
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="Output GeoTIFF (Cloud-Optimised).")
@click.option("--bandwidth-m", type=click.FloatRange(min=10), default=None,
              help="Kernel bandwidth in metres; given, the surface is recomputed.")
@click.option("--cell-m", type=click.FloatRange(min=5), default=None,
              help="Cell size in metres; given, the surface is recomputed.")
@click.option("--from", "date_from", default=None, help="First day (YYYY-MM-DD); recomputes.")
@click.option("--to", "date_to", default=None, help="Last day (YYYY-MM-DD); recomputes.")
@click.option("--category", "categories", multiple=True, help="Only these categories; recomputes.")
@click.option("--include-non-spatial", is_flag=True,
              help="Also use cybercrime and fraud (placed at the victim's mahalla).")
@region_option
@fail_cleanly
def export_kde(store_url: str | None, out: Path, bandwidth_m: float | None, cell_m: float | None,
               date_from: str | None, date_to: str | None, categories: tuple[str, ...],
               include_non_spatial: bool, regions: tuple[str, ...]) -> None:
    """Write the KDE risk surface (incidents per km², UTM) as a Cloud-Optimised GeoTIFF.

    Without options this is the surface `riskmap build` stored (bandwidth
    geo.kde_bandwidth_m, the last 12 full months). A bandwidth, cell size, window or
    category recomputes it from the incidents, as does a region-scoped user (the stored
    surface covers every region).
    """
    from riskmap.etl.derive_hotspots import read_kde_cog
    from riskmap.etl.hotspots_job import default_window, kde
    from riskmap.etl.rasters import write_cog

    settings = settings_from(store_url)
    recompute = any(v for v in (bandwidth_m, cell_m, date_from, date_to, categories,
                                include_non_spatial))
    with open_from(settings) as store:
        access = access_for(store, settings, regions)
        stored = None
        if not recompute and access.regions is None and store.has("kde_surface"):
            stored = access.read("kde_surface", purpose="export")
        if stored is not None and len(stored):
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_bytes(read_kde_cog(stored))
            tmp.replace(out)
            row = stored.iloc[0]
            click.echo(f"wrote the stored KDE surface ({row['width']} x {row['height']} cells, "
                       f"bandwidth {row['bandwidth_m']:g} m) to {out}")
            return
        incidents, mahallas = _read_inputs(access, "export", geometry=True)
    start, end = _window(date_from, date_to)
    if start is None and end is None:
        start, end = default_window(incidents, int(settings.geo.status_months))
    bw = bandwidth_m or float(settings.geo.kde_bandwidth_m)
    x0, y0, x1, y1 = (float(v) for v in mahallas.total_bounds)
    surface = kde(incidents, bandwidth_m=bw, cell_m=cell_m or float(settings.geo.kde_cell_m),
                  start=start, end=end, categories=list(categories) or None,
                  include_non_spatial=include_non_spatial,
                  bounds=(x0, y0, x1, y1))
    write_cog(out, surface.array, surface.transform, surface.crs)
    h, w = surface.array.shape
    click.echo(f"wrote a KDE surface ({w} x {h} cells of {surface.transform.a:g} m, "
               f"bandwidth {bw:g} m) to {out}")


COMMANDS = [evaluate]
