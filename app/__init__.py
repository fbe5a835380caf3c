"""riskmap app package."""
