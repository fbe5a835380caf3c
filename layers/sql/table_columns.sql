-- Columns of one table in the current schema, in order, with their base type and geometry SRID,
-- and on every row the layer's Arrow schema (base64; NULL when none): the two questions a read
-- asks first, in one round trip. %(table)s: the table name. An absent table returns no row.
SELECT a.attname                          AS name,
       t.typname                          AS base_type,
       format_type(a.atttypid, a.atttypmod) AS sql_type,
       CASE WHEN t.typname = 'geometry' THEN postgis_typmod_srid(a.atttypmod) END AS srid,
       CASE WHEN t.typname = 'geometry' THEN postgis_typmod_type(a.atttypmod) END AS geometry_type,
       (SELECT l.arrow_schema FROM riskmap_layers l WHERE l.name = %(table)s) AS arrow_schema
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c      ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n  ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t       ON t.oid = a.atttypid
WHERE n.nspname = current_schema()
  AND c.relname = %(table)s
  AND c.relkind IN ('r', 'p')
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attnum
