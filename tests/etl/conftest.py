"""Fixtures for ETL tests."""

from __future__ import annotations

import pytest

import geopandas as gpd

from tests.etl.grid import grid_frame


@pytest.fixture
def grid_mahallas() -> gpd.GeoDataFrame:
    """Nine square mahallas near Jizzakh; 'Navro‘z' exists in two districts."""
    return grid_frame()
