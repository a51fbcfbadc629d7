-- Each publisher's area for this check: its own polygon, or for those without one (utilities)
-- the union of every member's.
CREATE OR REPLACE FUNCTION pg_temp.share(g geometry, area geometry) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN area IS NULL THEN 0
        WHEN ST_Dimension(g) = 0 THEN CASE WHEN ST_Intersects(g, area) THEN 1 ELSE 0 END
        WHEN ST_Dimension(g) = 1
            THEN ST_Length(ST_Intersection(g, area)) / NULLIF(ST_Length(g), 0)
        ELSE ST_Area(ST_Intersection(g, area)) / NULLIF(ST_Area(g), 0)
    END
$$;

DROP TABLE IF EXISTS _areas;
CREATE TEMP TABLE _areas ON COMMIT DROP AS
WITH members AS (SELECT ST_Union(geom) AS geom FROM boundaries)
SELECT p.publisher, COALESCE(b.geom, m.geom) AS geom
FROM (SELECT DISTINCT publisher FROM {table}) AS p
LEFT JOIN boundaries AS b USING (publisher)
CROSS JOIN members AS m
WHERE COALESCE(b.geom, m.geom) IS NOT NULL;
CREATE INDEX ON _areas (publisher);
