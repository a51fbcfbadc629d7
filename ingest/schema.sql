-- Bookkeeping shared by every theme: runs, their issue logs, and the quarantine.
-- Applied by ingest.load.ensure_schema only when this file or a theme's DDL has changed.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE IF NOT EXISTS ingest_run (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    publisher text NOT NULL,
    theme text NOT NULL,
    protocol text NOT NULL,
    file_name text NOT NULL,
    file_sha256 text,  -- worked out while the indexes build: NULL while a run loads
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    input integer,
    loaded integer,
    quarantined integer,
    message text
);
-- Added after the first release: the loading connection (to tell a dead run from a live one)
-- and what the merge did to the live table.
ALTER TABLE ingest_run
    ADD COLUMN IF NOT EXISTS backend_pid integer,
    ADD COLUMN IF NOT EXISTS inserted integer,
    ADD COLUMN IF NOT EXISTS updated integer,
    ADD COLUMN IF NOT EXISTS unchanged integer,
    ADD COLUMN IF NOT EXISTS retired integer;
ALTER TABLE ingest_run ALTER COLUMN file_sha256 DROP NOT NULL;
-- How the file's coordinates reached the storage CRS: its CRS, and PROJ's operation (NULL when
-- they did not move).
ALTER TABLE ingest_run
    ADD COLUMN IF NOT EXISTS source_crs text,
    ADD COLUMN IF NOT EXISTS transformation text;
CREATE INDEX IF NOT EXISTS ingest_run_source_idx ON ingest_run (source, status);

CREATE TABLE IF NOT EXISTS issue_log (
    run_id bigint NOT NULL REFERENCES ingest_run (id) ON DELETE CASCADE,
    source_row integer,
    field text NOT NULL,
    rule text NOT NULL,
    severity text NOT NULL,
    message text NOT NULL,
    value text
);
CREATE INDEX IF NOT EXISTS issue_log_run_idx ON issue_log (run_id);

CREATE TABLE IF NOT EXISTS quarantine (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id bigint NOT NULL REFERENCES ingest_run (id) ON DELETE CASCADE,
    source text NOT NULL,
    theme text NOT NULL,
    source_row integer NOT NULL,
    reason text NOT NULL,
    attributes jsonb NOT NULL,
    geom geometry
);
CREATE INDEX IF NOT EXISTS quarantine_source_idx ON quarantine (source);
