-- Network continuity across boundaries. A line end is at a boundary when it lies within near_m of
-- both its publisher's own area and a neighbouring member's. Each such end is joined to the
-- nearest line of that neighbour within snap_m: two ends meet at their midpoint, an end meeting a
-- line's interior moves onto it. Corrections are stored beside the original geometry, never over
-- it. Ends with no partner are reported as gaps. Superseded duplicates take no part.
DROP TABLE IF EXISTS _ends;
CREATE TEMP TABLE _ends ON COMMIT DROP AS
SELECT
    t.fid, t.publisher, {ref_t} AS reference, e.which, e.pt, n.publisher AS neighbour,
    ST_Distance(e.pt, n.geom) AS to_neighbour
FROM {table} AS t
JOIN boundaries AS own ON own.publisher = t.publisher
CROSS JOIN LATERAL (
    VALUES ('start', ST_StartPoint(t.geom)), ('end', ST_EndPoint(t.geom))
) AS e (which, pt)
JOIN boundaries AS n ON n.publisher <> t.publisher AND ST_DWithin(e.pt, n.geom, %(near_m)s)
WHERE
    ST_GeometryType(t.geom) = 'ST_LineString'
    AND ST_DWithin(e.pt, own.geom, %(near_m)s)
    AND NOT EXISTS (SELECT 1 FROM duplicate_of AS d WHERE d.theme = %(theme)s AND d.fid = t.fid);

DROP TABLE IF EXISTS _joins;
CREATE TEMP TABLE _joins ON COMMIT DROP AS
SELECT DISTINCT ON (e.fid, e.which)
    e.fid, e.which, e.publisher, e.reference, e.pt,
    o.fid AS other_fid, o.publisher AS other_publisher, {ref_o} AS other_reference,
    o.geom AS other_geom, ST_Distance(e.pt, o.geom) AS distance
FROM _ends AS e
JOIN {table} AS o
    ON o.publisher = e.neighbour
    AND ST_DWithin(e.pt, o.geom, %(snap_m)s)
    AND ST_GeometryType(o.geom) = 'ST_LineString'
WHERE NOT EXISTS (SELECT 1 FROM duplicate_of AS d WHERE d.theme = %(theme)s AND d.fid = o.fid)
ORDER BY e.fid, e.which, ST_Distance(e.pt, o.geom), o.fid;

DROP TABLE IF EXISTS _nodes;
CREATE TEMP TABLE _nodes ON COMMIT DROP AS
SELECT
    j.*, m.pt AS other_pt,
    CASE
        WHEN m.fid IS NULL THEN ST_ClosestPoint(j.other_geom, j.pt)
        ELSE ST_SetSRID(ST_MakePoint(
            (ST_X(j.pt) + ST_X(m.pt)) / 2, (ST_Y(j.pt) + ST_Y(m.pt)) / 2
        ), ST_SRID(j.pt))
    END AS node
FROM _joins AS j
LEFT JOIN _joins AS m
    ON m.fid = j.other_fid AND m.other_fid = j.fid AND ST_DWithin(m.pt, j.pt, %(snap_m)s)
WHERE j.distance > %(touch_m)s;

INSERT INTO edge_corrections
    (theme, fid, geom, start_node, start_shift_m, end_node, end_shift_m, check_id)
SELECT
    %(theme)s, t.fid,
    ST_SetPoint(
        ST_SetPoint(t.geom, 0, coalesce(s.node, ST_StartPoint(t.geom))),
        ST_NPoints(t.geom) - 1, coalesce(e.node, ST_EndPoint(t.geom))
    ),
    s.node, ST_Distance(s.node, s.pt), e.node, ST_Distance(e.node, e.pt), %(check_id)s
FROM {table} AS t
LEFT JOIN _nodes AS s ON s.fid = t.fid AND s.which = 'start'
LEFT JOIN _nodes AS e ON e.fid = t.fid AND e.which = 'end'
WHERE s.fid IS NOT NULL OR e.fid IS NOT NULL;

INSERT INTO boundary_issues (
    kind, theme, publisher, feature_fid, reference, other_publisher, other_fid, other_reference,
    distance_m, message, check_id, run_id, geom
)
SELECT
    'edge-match', %(theme)s, n.publisher, n.fid, n.reference, n.other_publisher, n.other_fid,
    n.other_reference, coalesce(ST_Distance(n.pt, n.other_pt), n.distance),
    n.publisher || ' ' || n.reference || ' stops '
    || round(coalesce(ST_Distance(n.pt, n.other_pt), n.distance)::numeric, 2) || ' m short of '
    || n.other_publisher || ' ' || n.other_reference
    || ' across the boundary; joined at a shared node (correction stored, original kept)',
    %(check_id)s, %(run_id)s, n.node
FROM _nodes AS n
WHERE n.other_pt IS NULL OR (n.publisher, n.fid) < (n.other_publisher, n.other_fid);

INSERT INTO boundary_issues (
    kind, theme, publisher, feature_fid, reference, other_publisher, distance_m, message,
    check_id, run_id, geom
)
SELECT DISTINCT ON (e.fid, e.which)
    'dangling-end', %(theme)s, e.publisher, e.fid, e.reference, e.neighbour, e.to_neighbour,
    e.publisher || ' ' || e.reference || ' ends ' || round(e.to_neighbour::numeric, 1)
    || ' m from ' || e.neighbour || ' with no line of theirs within ' || %(snap_m)s
    || ' m to join: a gap in the network across the boundary',
    %(check_id)s, %(run_id)s, e.pt
FROM _ends AS e
WHERE NOT EXISTS (SELECT 1 FROM _joins AS j WHERE j.fid = e.fid AND j.which = e.which)
ORDER BY e.fid, e.which, e.to_neighbour;
