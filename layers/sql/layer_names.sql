-- Layers that hold data: catalogued in riskmap_layers and whose table still exists.
SELECT l.name
FROM riskmap_layers l
JOIN pg_catalog.pg_class c     ON c.relname = l.name AND c.relkind IN ('r', 'p')
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
ORDER BY l.name
