-- Delete the rows whose key is among the staged keys, in whichever partition (month) they are:
-- an upsert of a row whose month changed must remove it from its old month.
-- {table}, {stage}: identifiers; {key}: the key column (the stage's only column).
DELETE FROM {table} AS t
USING {stage} AS s
WHERE t.{key} = s.{key}
