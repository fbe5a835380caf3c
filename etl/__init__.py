"""riskmap etl package."""
