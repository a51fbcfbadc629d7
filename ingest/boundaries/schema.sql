-- Checks across authority boundaries: the members' areas, what each check found, and the decisions
-- it took (which duplicate the merged view hides, where a line end is joined to its neighbour's).
-- Decisions point at theme rows by fid without a foreign key, so a theme table can still be
-- truncated or swapped; each check replaces its theme's decisions whole.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE IF NOT EXISTS boundaries (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    publisher text NOT NULL UNIQUE,
    name text NOT NULL,
    file_sha256 text NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    geom geometry(MultiPolygon, 27700) NOT NULL
);
CREATE INDEX IF NOT EXISTS boundaries_geom_idx ON boundaries USING gist (geom);

CREATE TABLE IF NOT EXISTS boundary_check (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    theme text NOT NULL,
    run_id bigint,
    checked_at timestamptz NOT NULL DEFAULT now(),
    counts jsonb NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS boundary_check_run_idx ON boundary_check (run_id);
-- Added later: what a check was run under (its theme's protocol and tolerances, the boundaries
-- file), so the next check knows whether findings on features no run has changed still stand,
-- and whether it looked at the whole theme or only what runs had changed.
ALTER TABLE boundary_check
    ADD COLUMN IF NOT EXISTS settings jsonb,
    ADD COLUMN IF NOT EXISTS whole boolean;

-- The ingest runs whose features a check has looked at: a run that is not here yet (its own check
-- never ran, say the process was killed) is looked at by the next check of its theme.
CREATE TABLE IF NOT EXISTS boundary_checked_run (
    run_id bigint PRIMARY KEY,
    check_id bigint NOT NULL REFERENCES boundary_check (id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS boundary_issues (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN (
        'out-of-area', 'duplicate', 'edge-match', 'dangling-end', 'boundary-gap', 'boundary-overlap'
    )),
    theme text NOT NULL,
    publisher text NOT NULL,
    feature_fid bigint,
    reference text,
    other_publisher text,
    other_fid bigint,
    other_reference text,
    distance_m double precision,
    area_m2 double precision,
    message text NOT NULL,
    check_id bigint NOT NULL REFERENCES boundary_check (id) ON DELETE CASCADE,
    run_id bigint,
    detected_at timestamptz NOT NULL DEFAULT now(),
    geom geometry(Geometry, 27700) NOT NULL
);
CREATE INDEX IF NOT EXISTS boundary_issues_theme_idx ON boundary_issues (theme, kind);
CREATE INDEX IF NOT EXISTS boundary_issues_geom_idx ON boundary_issues USING gist (geom);

CREATE TABLE IF NOT EXISTS duplicate_of (
    theme text NOT NULL,
    fid bigint NOT NULL,
    kept_fid bigint NOT NULL,
    distance_m double precision NOT NULL,
    check_id bigint NOT NULL REFERENCES boundary_check (id) ON DELETE CASCADE,
    PRIMARY KEY (theme, fid)
);

CREATE TABLE IF NOT EXISTS edge_corrections (
    theme text NOT NULL,
    fid bigint NOT NULL,
    geom geometry(LineString) NOT NULL,
    start_node geometry(Point),
    start_shift_m double precision,
    end_node geometry(Point),
    end_shift_m double precision,
    check_id bigint NOT NULL REFERENCES boundary_check (id) ON DELETE CASCADE,
    PRIMARY KEY (theme, fid)
);
