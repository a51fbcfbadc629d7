-- Features of two publishers within the duplicate tolerance of each other: candidates for being
-- one object supplied twice. Each feature of the fewer side (d) is looked up in the spatial index
-- among those of the other (p); a pair is oriented publisher first by name, as the decision that
-- follows (duplicates.sql) expects.
INSERT INTO _candidates (fid_a, fid_b)
SELECT
    CASE WHEN d.publisher < p.publisher THEN d.fid ELSE p.fid END,
    CASE WHEN d.publisher < p.publisher THEN p.fid ELSE d.fid END
FROM {table} AS d
CROSS JOIN LATERAL (
    SELECT p.fid, p.publisher
    FROM {table} AS p
    WHERE ST_DWithin(d.geom, p.geom, %(duplicate_m)s)
        AND ST_Dimension(p.geom) = ST_Dimension(d.geom)
        AND {probe}
) AS p
WHERE {drive};
