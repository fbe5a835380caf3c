"""riskmap app/callbacks package."""
