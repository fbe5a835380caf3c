"""Page layouts: one module per page with ``register(app, model)`` and ``layout(**query)``."""
