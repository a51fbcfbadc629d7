-- Features lying further outside their publisher's area than the protocol allows. The distance is
-- that of the furthest vertex; the geometry drawn is the part outside.
INSERT INTO boundary_issues
    (kind, theme, publisher, feature_fid, reference, distance_m, message, check_id, run_id, geom)
SELECT
    'out-of-area', %(theme)s, t.publisher, t.fid, {ref_t}, o.beyond,
    t.publisher || ' ' || {ref_t} || ' lies up to ' || round(o.beyond::numeric, 1)
    || ' m outside its publisher''s area (the protocol allows ' || %(out_of_area_m)s || ' m)',
    %(check_id)s, %(run_id)s, ST_Difference(t.geom, a.geom)
FROM {table} AS t
JOIN _areas AS a USING (publisher)
CROSS JOIN LATERAL (
    SELECT max(ST_Distance(p.geom, a.geom)) AS beyond FROM ST_DumpPoints(t.geom) AS p
) AS o
WHERE {features} AND NOT ST_Within(t.geom, a.geom) AND o.beyond > %(out_of_area_m)s;
