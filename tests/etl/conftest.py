"""Fixtures for ETL tests."""

from __future__ import annotations

import geopandas as gpd
import pytest

from tests.etl.grid import grid_frame


@pytest.fixture
def grid_mahallas() -> gpd.GeoDataFrame:
    """Nine square mahallas near Jizzakh; 'Navro‘z' exists in two districts."""
    return grid_frame()
