-- Up to five staged keys that the table already holds (an append must not repeat a key).
-- {table}, {stage}: identifiers; {key}: the key column.
SELECT s.{key}
FROM {stage} AS s
WHERE EXISTS (SELECT 1 FROM {table} AS t WHERE t.{key} = s.{key})
LIMIT 5
