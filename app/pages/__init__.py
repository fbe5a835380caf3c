"""riskmap app/pages package."""
