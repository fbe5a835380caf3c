"""Layout pieces shared by the pages: a labelled field, buttons and the map-over-chart panel."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from riskmap.app.data import AppModel
from riskmap.app.figures import empty_figure
from riskmap.i18n import gettext as _
from riskmap.i18n.names import display_name

__all__ = ["BUTTON", "area_fields", "categories_field", "category_label", "field",
           "map_and_chart", "map_panel", "sidebar_page"]

#: inline style of the pages' plain buttons
BUTTON = {"padding": "0.35rem 0.8rem", "cursor": "pointer"}


def field(label: str, control: Any) -> html.Div:
    """A control under its label (class ``field``)."""
    return html.Div([html.Label(label, className="field-label"), control], className="field")


def map_and_chart(loading_id: str, map_id: str, chart_id: str, *, map_text: str,
                  chart_text: str, map_height: str, chart_height: str) -> html.Section:
    """A map above a chart, under one loading spinner; each starts as an empty figure."""
    return html.Section([
        dcc.Loading(id=loading_id, type="default", children=html.Div([
            dcc.Graph(id=map_id, figure=empty_figure(map_text), responsive=True,
                      style={"height": map_height, "width": "100%"},
                      config={"displaylogo": False, "scrollZoom": True}),
            dcc.Graph(id=chart_id, figure=empty_figure(chart_text),
                      style={"height": chart_height, "width": "100%"},
                      config={"displaylogo": False}),
        ])),
    ], style={"minWidth": 0})


def sidebar_page(page: str, controls: list[Any], main: Any, *, sidebar: str) -> html.Div:
    """A page ``page page-<page>``: the controls column (``sidebar`` wide), then ``main``."""
    return html.Div([html.Aside(controls, className="controls"), main],
                    className=f"page page-{page}",
                    style={"flex": 1, "display": "grid", "gridTemplateColumns": f"{sidebar} 1fr",
                           "minHeight": "calc(100vh - 3rem)"})


def category_label(code: str) -> str:
    """Label of a category code in the reader's language: ``"vehicle_theft"`` ->
    ``"Vehicle theft"`` (``"Угон транспорта"`` in Russian)."""
    return display_name(code)


def categories_field(component_id: str, categories: list[str],
                     chosen: tuple[str, ...]) -> html.Div:
    """The multi-select of categories (empty: all), ``chosen`` kept when offered."""
    return field(_("Categories"), dcc.Dropdown(
        id=component_id, multi=True,
        options=[{"label": category_label(c), "value": c} for c in categories],
        value=[c for c in chosen if c in categories], placeholder=_("All categories")))


def area_fields(model: AppModel, region_id: str, district_id: str, region: str | None,
                district: str | None) -> list[html.Div]:
    """Region and district dropdowns; a region or district not in scope is not selected."""
    regions = model.regions()
    region = region if region in regions else None
    districts = model.districts(region)
    return [
        field(_("Region"), dcc.Dropdown(id=region_id, options=regions, value=region,
                                        placeholder=_("All regions"))),
        field(_("District"), dcc.Dropdown(
            id=district_id, options=districts,
            value=district if district in districts else None, placeholder=_("All districts"))),
    ]


def map_panel(map_id: str, *, export_name: str | None = None) -> html.Section:
    """The page's main map: fills its panel, scroll-zooms, no selection tools; the modebar's
    camera button saves a PNG named ``export_name`` (plotly's default name when ``None``)."""
    config: dict[str, Any] = {"displaylogo": False, "scrollZoom": True,
                              "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}
    if export_name:
        config["toImageButtonOptions"] = {"format": "png", "filename": export_name, "scale": 2}
    return html.Section([
        dcc.Graph(id=map_id, className="map", responsive=True,
                  style={"height": "100%", "width": "100%"}, config=config),
    ], className="map-panel")
