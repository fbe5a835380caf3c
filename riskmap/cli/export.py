"""``riskmap export``: write layers out through the data-access layer (scoped and audited)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from riskmap.cli.common import (
    DATE,
    check_window,
    fail_cleanly,
    open_from,
    settings_from,
    store_option,
)
from riskmap.csvsafe import to_csv

__all__ = ["COMMANDS", "export", "format_option", "header_in", "lang_option", "write_frame"]


def format_option(choices: tuple[str, ...]):
    """``--format`` with the given choices (the first is the default)."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0],
                        show_default=True, help="Output format.")


def lang_option(func):
    """``--lang``: the language of a CSV's column headers (``en``: the column ids)."""
    from riskmap.i18n import LANGUAGES

    return click.option(
        "--lang", "lang", type=click.Choice(LANGUAGES), envvar="RISKMAP_LANG",
        default="en", show_default=True, show_envvar=True,
        help="Language of the CSV's column headers. en (the default) keeps the column ids "
             "(incident_id, occurred_at, ...) that scripts and other systems read; uz_Latn, "
             "uz_Cyrl and ru write the columns' names for people. Values are not translated "
             "(category codes, ids); GeoJSON and Parquet always keep the ids.")(func)


def header_in(frame: pd.DataFrame, lang: str | None) -> pd.DataFrame:
    """``frame`` with its column headers in ``lang`` (see ``--lang``)."""
    from riskmap.i18n.names import column_header

    if lang in (None, "en"):
        return frame
    return frame.rename(columns={c: column_header(c, lang) for c in frame.columns})


def region_option(func):
    """``--region``: limit to these regions (repeatable)."""
    return click.option("--region", "regions", multiple=True,
                        help="Only these regions (repeatable).")(func)


@click.group()
def export() -> None:
    """Write layers and analysis results to files (CSV, GeoJSON, Parquet).

    Every export is read through the data-access layer: it is limited to the regions in
    RISKMAP_APP__REGIONS when set, and written to the audit log.
    """


def access_for(store, settings, regions: tuple[str, ...] = (), *,
               suppressed_elsewhere: bool = False):
    """The data-access object for an export (``suppressed_elsewhere``: with ``regions``, the
    other regions within the app's limit are read suppressed, see ``DataAccess``)."""
    from riskmap.layers.access import DataAccess

    allowed = list(settings.app.regions)
    if regions:
        if allowed and not set(regions) <= set(allowed):
            raise PermissionError(f"regions {sorted(set(regions) - set(allowed))} are outside "
                                  f"this user's scope ({', '.join(allowed)})")
        allowed = list(regions)
    return DataAccess(store, user=settings.user, regions=allowed or None,
                      suppressed_elsewhere=suppressed_elsewhere and bool(regions),
                      limit=list(settings.app.regions) or None)


def write_frame(frame: pd.DataFrame, out: Path, fmt: str) -> None:
    """Write a frame (GeoDataFrame for geojson) atomically-ish: to a temp file, then rename."""
    import geopandas as gpd

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt not in ("csv", "parquet", "geojson"):
        raise click.UsageError(f"unknown format {fmt}")
    if fmt == "geojson" and not isinstance(frame, gpd.GeoDataFrame):
        raise click.UsageError("this export has no geometry; use --format csv")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        if fmt == "csv":
            to_csv(frame, tmp)  # cells that would run as spreadsheet formulas are neutralised
        elif fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_file(tmp, driver="GeoJSON", engine="pyogrio")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or an interrupt leaves no half-written file
        raise


def incidents_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The export columns of incidents (lat/lon from the point, h3 as hex)."""
    from riskmap.geo.h3index import cells_to_hex
    from riskmap.geo.points import xy

    lon, lat = xy(frame.geometry.values)
    frame = frame.reindex(columns=[*frame.columns, *(  # suppressed rows have no id or source
        c for c in ("incident_id", "flags", "source_file", "source_row")
        if c not in frame.columns)])
    out = pd.DataFrame({
        "incident_id": frame["incident_id"],
        "occurred_at": frame["occurred_at"].dt.tz_convert("Asia/Tashkent").map(
            lambda t: t.isoformat() if pd.notna(t) else None),
        "category": frame["category"],
        "lat": lat, "lon": lon,
        "h3": cells_to_hex(frame["h3"].fillna(0).to_numpy(dtype="int64")),
        "mahalla_id": frame["mahalla_id"],
        "district": frame["district"],
        "region": frame["region"],
        "geocode_precision": frame["geocode_precision"],
        "flags": frame["flags"].fillna(""),
        "source_file": frame["source_file"],
        "source_row": frame["source_row"],
    })
    from riskmap.geo.focus import FOCUS_FIELDS

    for name in FOCUS_FIELDS:  # empty where unknown, and for suppressed rows (never read)
        if name in frame.columns:
            out[name] = frame[name].astype(object).where(frame[name].notna(), None)
    if "suppressed" in frame.columns:
        out["suppressed"] = frame["suppressed"].fillna(False).to_numpy(dtype=bool)
    return out


@export.command("incidents")
@store_option
@format_option(("csv", "geojson", "parquet"))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="Output file.")
@region_option
@click.option("--from", "date_from", type=DATE, default=None, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", type=DATE, default=None, help="Last day (YYYY-MM-DD), inclusive.")
@click.option("--category", "categories", multiple=True, help="Only these categories.")
@click.option("--suppressed-elsewhere", is_flag=True,
              help="With --region: add the other regions' incidents suppressed (point at "
                   "the centre of its coarse H3 cell, month only, no id or source; column "
                   "'suppressed'), as a user with that view sees them.")
@lang_option
@fail_cleanly
def export_incidents(store_url: str | None, fmt: str, out: Path, regions: tuple[str, ...],
                     date_from: str | None, date_to: str | None,
                     categories: tuple[str, ...], suppressed_elsewhere: bool,
                     lang: str = "en") -> None:
    """Write incidents with lat, lon, H3 cell (hex), mahalla and geocode precision."""
    import geopandas as gpd

    check_window(date_from, date_to)
    settings = settings_from(store_url)
    filters = []
    if date_from:
        filters.append(("occurred_at", ">=", pd.Timestamp(date_from, tz="Asia/Tashkent")))
    if date_to:
        filters.append(("occurred_at", "<", pd.Timestamp(date_to, tz="Asia/Tashkent")
                        + pd.Timedelta(days=1)))
    if categories:
        filters.append(("category", "in", list(categories)))
    if suppressed_elsewhere and not regions:
        raise click.UsageError("--suppressed-elsewhere needs --region (the regions shown in "
                               "full)")
    with open_from(settings) as store:
        access = access_for(store, settings, regions,
                            suppressed_elsewhere=suppressed_elsewhere)
        frame = (access.read_visible("incidents", filters=filters, purpose="export",
                                     timezone=settings.etl.timezone)
                 if suppressed_elsewhere else
                 access.read("incidents", filters=filters, purpose="export"))
    table = incidents_table(frame)
    if fmt == "geojson":
        table = gpd.GeoDataFrame(table, geometry=frame.geometry.values, crs=4326)
    elif fmt == "csv":
        table = header_in(table, lang)
    write_frame(table, out, fmt)
    click.echo(f"wrote {len(table)} incidents to {out}")


@export.command("quarantine")
@store_option
@format_option(("csv", "parquet"))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="Output file.")
@click.option("--layer", default=None, help="Only rows quarantined from this layer.")
@fail_cleanly
def export_quarantine(store_url: str | None, fmt: str, out: Path, layer: str | None) -> None:
    """Write quarantined rows: the original columns plus quarantine_id, reason and detail.

    Correct the rows in the file and load it again with `riskmap ingest incidents FILE`:
    rows that now load are removed from the quarantine.
    """
    settings = settings_from(store_url)
    with open_from(settings) as store:
        frame = access_for(store, settings).read(
            "quarantine", filters=[("layer", "=", layer)] if layer else None, purpose="export")
    table = quarantine_table(frame)
    write_frame(table, out, fmt)
    click.echo(f"wrote {len(table)} quarantined rows to {out}")


def quarantine_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Expand the stored original rows back into columns."""
    raw = pd.DataFrame([json.loads(r) if isinstance(r, str) else {} for r in frame["raw"]])
    meta = pd.DataFrame({
        "quarantine_id": frame["quarantine_id"].to_numpy(),
        "reason": frame["reason"].to_numpy(),
        "detail": frame["detail"].to_numpy(),
        "source_file": frame["source_file"].to_numpy(),
        "source_row": frame["source_row"].to_numpy(),
    })
    raw = raw.drop(columns=[c for c in meta.columns if c in raw.columns])
    return pd.concat([raw.reset_index(drop=True), meta], axis=1)


@export.command("bundle")
@store_option
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="Output: a .gpkg file, or a folder (with --format parquet).")
@click.option("--format", "fmt", type=click.Choice(("gpkg", "parquet")), default="gpkg",
              show_default=True, help="One GeoPackage, or a folder of GeoParquet files.")
@region_option
@fail_cleanly
def export_bundle(store_url: str | None, out: Path, fmt: str, regions: tuple[str, ...]) -> None:
    """Write every layer (base and derived) for desktop GIS: one GeoPackage or GeoParquet.

    Each layer keeps its CRS (EPSG:4326); tables without geometry become attribute tables.
    Read through the data-access layer (scoped to --region / RISKMAP_APP__REGIONS and
    audited); the KDE surface is a raster: `riskmap export kde -o risk.tif`.
    """
    from riskmap.etl.bundle import write_bundle

    settings = settings_from(store_url)
    with open_from(settings) as store:
        result = write_bundle(access_for(store, settings, regions), out, fmt=fmt)
    for name, rows in result.layers.items():
        click.echo(f"  {name:<24} {rows:>10,} rows")
    for name, why in result.left_out.items():
        click.echo(f"  {name:<24} left out: {why}")
    click.echo(f"wrote {len(result.layers)} layers to {out}")


COMMANDS = [export]
