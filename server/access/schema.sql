-- Who may upload or read: publishers, their API tokens, and the audit log of what they did.
CREATE TABLE IF NOT EXISTS publisher (
    id text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    origin text NOT NULL CHECK (origin IN ('config', 'cli')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_token (
    id text PRIMARY KEY,
    publisher text NOT NULL REFERENCES publisher (id),
    role text NOT NULL CHECK (role IN ('uploader', 'partner')),
    salt bytea NOT NULL,
    digest bytea NOT NULL,
    note text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);

CREATE TABLE IF NOT EXISTS audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    token_id text,
    publisher text,
    action text NOT NULL,
    target text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_log_token_idx ON audit_log (token_id, action, at);
