-- The same object supplied by two publishers: alike in code values, and geometry within tolerance
-- (Hausdorff distance for lines and polygons, plain distance for points), among the candidate
-- pairs (pairs.sql). The one whose publisher's area holds the larger share of it is kept; ties go
-- to the publisher first by name, then the older row. The other stays stored, listed in
-- duplicate_of, and out of the merged view.
DROP TABLE IF EXISTS _pairs;
CREATE TEMP TABLE _pairs ON COMMIT DROP AS
WITH near AS (
    SELECT
        a.fid AS fid_a, b.fid AS fid_b, a.publisher AS pub_a, b.publisher AS pub_b,
        {ref_a} AS ref_a, {ref_b} AS ref_b, a.geom AS geom_a, b.geom AS geom_b,
        CASE WHEN ST_Dimension(a.geom) = 0 THEN ST_Distance(a.geom, b.geom)
            ELSE ST_HausdorffDistance(a.geom, b.geom) END AS distance
    FROM _candidates AS c
    JOIN {table} AS a ON a.fid = c.fid_a
    JOIN {table} AS b ON b.fid = c.fid_b
    WHERE {compatible}
), shared AS (
    SELECT
        n.*,
        round(pg_temp.share(n.geom_a, aa.geom)::numeric, 6) AS share_a,
        round(pg_temp.share(n.geom_b, ab.geom)::numeric, 6) AS share_b
    FROM near AS n
    LEFT JOIN _areas AS aa ON aa.publisher = n.pub_a
    LEFT JOIN _areas AS ab ON ab.publisher = n.pub_b
    WHERE n.distance <= %(duplicate_m)s
)
SELECT
    s.*,
    s.share_a > s.share_b
    OR (s.share_a = s.share_b AND (s.pub_a, s.fid_a) < (s.pub_b, s.fid_b)) AS a_kept
FROM shared AS s;

INSERT INTO boundary_issues (
    kind, theme, publisher, feature_fid, reference, other_publisher, other_fid, other_reference,
    distance_m, message, check_id, run_id, geom
)
SELECT
    'duplicate', %(theme)s, d.pub, d.fid, d.ref, d.kept_pub, d.kept_fid, d.kept_ref, d.distance,
    d.pub || ' ' || d.ref || ' is the same object as ' || d.kept_pub || ' ' || d.kept_ref
    || ' (' || round(d.distance::numeric, 2) || ' m apart); the merged view shows '
    || d.kept_pub || '''s, whose area holds more of it',
    %(check_id)s, %(run_id)s, d.geom
FROM (
    SELECT
        CASE WHEN a_kept THEN pub_b ELSE pub_a END AS pub,
        CASE WHEN a_kept THEN fid_b ELSE fid_a END AS fid,
        CASE WHEN a_kept THEN ref_b ELSE ref_a END AS ref,
        CASE WHEN a_kept THEN pub_a ELSE pub_b END AS kept_pub,
        CASE WHEN a_kept THEN fid_a ELSE fid_b END AS kept_fid,
        CASE WHEN a_kept THEN ref_a ELSE ref_b END AS kept_ref,
        CASE WHEN a_kept THEN geom_b ELSE geom_a END AS geom,
        distance
    FROM _pairs
) AS d;

-- Which copy the merged view hides: every duplicate standing, found by this check or kept from an
-- earlier one, each hidden behind its nearest kept copy.
INSERT INTO duplicate_of (theme, fid, kept_fid, distance_m, check_id)
SELECT DISTINCT ON (feature_fid) %(theme)s, feature_fid, other_fid, distance_m, %(check_id)s
FROM boundary_issues
WHERE theme = %(theme)s AND kind = 'duplicate'
ORDER BY feature_fid, distance_m, other_fid;
