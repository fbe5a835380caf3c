"""riskmap geo package."""

if __name__ != "riskmap.geo":  # pragma: no cover - one module, one name
    raise ImportError(f"import riskmap.geo, not {__name__}: the folder geo/ is installed as riskmap.geo")

