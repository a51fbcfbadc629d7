-- Gaps and overlaps between the members' boundary polygons. Overlaps are where two polygons share
-- area; gaps are holes in their union, attributed to the members around them. Crumbs of floating
-- point noise smaller than min_area_m2 are ignored.
INSERT INTO boundary_issues
    (kind, theme, publisher, other_publisher, area_m2, message, check_id, run_id, geom)
SELECT
    'boundary-overlap', 'boundaries', a.publisher, b.publisher, ST_Area(p.geom),
    a.name || ' and ' || b.name || ' both claim ' || round(ST_Area(p.geom)::numeric) || ' m²',
    %(check_id)s, %(run_id)s, p.geom
FROM boundaries AS a
JOIN boundaries AS b ON a.publisher < b.publisher AND ST_Intersects(a.geom, b.geom)
CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)) AS p
WHERE ST_Area(p.geom) > %(min_area_m2)s;

WITH parts AS (
    SELECT (ST_Dump(ST_Union(geom))).geom AS geom FROM boundaries
), holes AS (
    SELECT r.geom FROM parts CROSS JOIN LATERAL ST_DumpRings(parts.geom) AS r
    WHERE r.path[1] > 0 AND ST_Area(r.geom) > %(min_area_m2)s
)
INSERT INTO boundary_issues
    (kind, theme, publisher, other_publisher, area_m2, message, check_id, run_id, geom)
SELECT
    'boundary-gap', 'boundaries', m.members[1], m.members[2], ST_Area(h.geom),
    'a gap of ' || round(ST_Area(h.geom)::numeric) || ' m² that no member covers, between '
    || array_to_string(m.names, ' and '),
    %(check_id)s, %(run_id)s, h.geom
FROM holes AS h
CROSS JOIN LATERAL (
    SELECT array_agg(b.publisher ORDER BY b.publisher) AS members,
        array_agg(b.name ORDER BY b.publisher) AS names
    FROM boundaries AS b WHERE ST_DWithin(b.geom, h.geom, 0.01)
) AS m;
