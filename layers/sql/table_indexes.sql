-- Indexes of one table with the definitions to re-create them, and the primary-key / unique
-- constraint owning each (if any). %(table)s: the table name, in the current schema.
SELECT ic.relname                        AS index_name,
       pg_get_indexdef(i.indexrelid)     AS index_def,
       con.conname                       AS constraint_name,
       pg_get_constraintdef(con.oid)     AS constraint_def
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic     ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class t      ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n  ON n.oid = t.relnamespace
LEFT JOIN pg_catalog.pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = t.oid AND con.contype IN ('p', 'u')
WHERE n.nspname = current_schema()
  AND t.relname = %(table)s
ORDER BY ic.relname
