-- Insert the staged rows into the layer's table, replacing rows whose key already exists.
-- {table}, {stage}: identifiers; {columns}: target column list; {select}: the staged values
-- (geometry promoted with ST_Multi where the column is a Multi* type); {key}: the key column;
-- {updates}: "col = EXCLUDED.col" for every non-key column.
INSERT INTO {table} ({columns})
SELECT {select} FROM {stage}
ON CONFLICT ({key}) DO UPDATE SET {updates}
