"""riskmap: geospatial risk mapping for mahalla public safety."""

__version__ = "0.1.0"
