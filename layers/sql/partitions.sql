-- Partitions of a partitioned table in the current schema, with the lower bound of each range.
-- %(table)s: the partitioned table. An unpartitioned or absent table returns no row.
SELECT c.relname                                   AS partition,
       pg_get_expr(c.relpartbound, c.oid)          AS bound
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c      ON c.oid = i.inhrelid
JOIN pg_catalog.pg_class p      ON p.oid = i.inhparent
JOIN pg_catalog.pg_namespace n  ON n.oid = p.relnamespace
WHERE n.nspname = current_schema()
  AND p.relname = %(table)s
ORDER BY c.relname
