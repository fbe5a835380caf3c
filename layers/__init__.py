"""Layer schemas and the store (embedded GeoParquet or PostGIS) behind one interface."""

if __name__ != "riskmap.layers":  # pragma: no cover - one module, one name
    raise ImportError(f"import riskmap.layers, not {__name__}: the folder layers/ is installed as riskmap.layers")


from riskmap.layers import builtin as builtin  # registers the built-in layers
from riskmap.layers import derived as derived  # and the derived ones
from riskmap.layers.spec import LayerSpec, get_spec, register_layer, registered_layers
from riskmap.layers.store import Store, open_store

__all__ = ["LayerSpec", "Store", "builtin", "derived", "get_spec", "open_store", "register_layer",
           "registered_layers"]
