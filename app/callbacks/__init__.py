"""Page callbacks: one module per page with ``register(app, model)`` attaching ``app.callback``s."""
