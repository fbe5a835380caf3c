"""riskmap geo package."""
