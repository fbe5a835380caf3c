"""riskmap etl package."""

if __name__ != "riskmap.etl":  # pragma: no cover - one module, one name
    raise ImportError(f"import riskmap.etl, not {__name__}: the folder etl/ is installed as riskmap.etl")

