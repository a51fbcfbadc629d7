-- Features lying further outside their publisher's area than the protocol allows. The distance is
-- that of the furthest vertex; the geometry drawn is the part outside. The features not within
-- their area are found first (MATERIALIZED keeps the planner from measuring every vertex of every
-- feature before that cheap test: 5.7 s instead of 0.2 s for 100,000 lines). The area is joined
-- again after, not carried: a copy of it in each row found outside cost 0.15 s for 8,000 points.
WITH outside AS MATERIALIZED (
    SELECT t.fid, t.publisher, {ref_t} AS reference, t.geom
    FROM {table} AS t
    JOIN _areas AS a USING (publisher)
    WHERE {features} AND NOT ST_Within(t.geom, a.geom)
)
INSERT INTO boundary_issues
    (kind, theme, publisher, feature_fid, reference, distance_m, message, check_id, run_id, geom)
SELECT
    'out-of-area', %(theme)s, f.publisher, f.fid, f.reference, o.beyond,
    f.publisher || ' ' || f.reference || ' lies up to ' || round(o.beyond::numeric, 1)
    || ' m outside its publisher''s area (the protocol allows ' || %(out_of_area_m)s || ' m)',
    %(check_id)s, %(run_id)s,
    -- a point this far out is all outside: clipping it by a detailed area costs ~40 µs a point
    CASE WHEN GeometryType(f.geom) = 'POINT' THEN f.geom ELSE ST_Difference(f.geom, a.geom) END
FROM outside AS f
JOIN _areas AS a USING (publisher)
CROSS JOIN LATERAL (
    SELECT max(ST_Distance(p.geom, a.geom)) AS beyond FROM ST_DumpPoints(f.geom) AS p
) AS o
WHERE o.beyond > %(out_of_area_m)s;
