-- Times are microseconds since the Unix epoch, UTC; NULL means unset.
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    title           TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    service         TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    group_key       TEXT    NOT NULL,
    group_labels    TEXT,
    responder       TEXT    NOT NULL DEFAULT '',
    impact          TEXT    NOT NULL DEFAULT '',
    eta             TEXT    NOT NULL DEFAULT '',
    alert_count     INTEGER NOT NULL DEFAULT 0,
    firing_count    INTEGER NOT NULL DEFAULT 0,
    repeats         INTEGER NOT NULL DEFAULT 0,
    repeats_logged  INTEGER NOT NULL DEFAULT 0,
    alerts_logged   INTEGER NOT NULL DEFAULT 0,
    started_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    resolved_at     INTEGER,
    updated_at      INTEGER NOT NULL
);
-- At most one open incident per group key.
CREATE UNIQUE INDEX incidents_open_group ON incidents (group_key) WHERE status <> 'resolved';
CREATE INDEX incidents_status ON incidents (status, id);
CREATE INDEX incidents_pending_summaries ON incidents (id) WHERE repeats > repeats_logged OR alert_count > alerts_logged;

CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    source        TEXT    NOT NULL,
    fingerprint   TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    summary       TEXT    NOT NULL DEFAULT '',
    severity      TEXT    NOT NULL,
    labels        TEXT    NOT NULL,
    annotations   TEXT,
    generator_url TEXT    NOT NULL DEFAULT '',
    links         TEXT,
    details       TEXT,
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER,
    count         INTEGER NOT NULL DEFAULT 1,
    last_seen_at  INTEGER NOT NULL,
    resolved_at   INTEGER
);
-- At most one firing alert per identity.
CREATE UNIQUE INDEX alerts_firing_fingerprint ON alerts (fingerprint) WHERE status = 'firing';
CREATE INDEX alerts_incident ON alerts (incident_id, id);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    data        TEXT
);
CREATE INDEX timeline_incident ON timeline (incident_id, id);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    source     TEXT    NOT NULL DEFAULT '',
    hash       BLOB    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    revoked_at INTEGER
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT
);

CREATE TABLE playbook_versions (
    hash      TEXT    PRIMARY KEY,
    name      TEXT    NOT NULL,
    path      TEXT    NOT NULL,
    content   BLOB    NOT NULL,
    loaded_at INTEGER NOT NULL
);
