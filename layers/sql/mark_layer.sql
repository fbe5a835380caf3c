-- Record that a layer holds data, with the Arrow schema its attributes were written with
-- (so that a read gives back the same dtypes as the embedded store).
INSERT INTO riskmap_layers (name, registered, arrow_schema, updated_at)
VALUES (%(name)s, %(registered)s, %(arrow_schema)s, now())
ON CONFLICT (name) DO UPDATE
SET registered = EXCLUDED.registered,
    arrow_schema = COALESCE(EXCLUDED.arrow_schema, riskmap_layers.arrow_schema),
    updated_at = EXCLUDED.updated_at
