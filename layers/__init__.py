"""Layer schemas and the store (embedded GeoParquet or PostGIS) behind one interface."""

from layers import builtin as builtin  # registers the built-in layers
from layers import derived as derived  # and the derived ones
from layers.spec import LayerSpec, get_spec, register_layer, registered_layers
from layers.store import Store, open_store

__all__ = ["LayerSpec", "Store", "builtin", "derived", "get_spec", "open_store", "register_layer",
           "registered_layers"]
