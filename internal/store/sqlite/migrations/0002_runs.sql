CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    playbook_id     TEXT    NOT NULL,
    playbook_hash   TEXT    NOT NULL,
    procedure_key   TEXT    NOT NULL,
    procedure_title TEXT    NOT NULL,
    match_reason    TEXT    NOT NULL DEFAULT '',
    two_person      INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX runs_incident ON runs (incident_id, id);

-- A step row is its own job: a worker claims it by moving it from
-- pending+queued to running.
CREATE TABLE steps (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    position      INTEGER NOT NULL,
    task_key      TEXT    NOT NULL,
    section       TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    executor      TEXT    NOT NULL DEFAULT '',
    risk          TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL,
    reason        TEXT    NOT NULL DEFAULT '',
    auto          INTEGER NOT NULL DEFAULT 0,
    queued        INTEGER NOT NULL DEFAULT 0,
    language      TEXT    NOT NULL DEFAULT '',
    text          TEXT    NOT NULL DEFAULT '',
    edited        INTEGER NOT NULL DEFAULT 0,
    target        TEXT    NOT NULL DEFAULT '',
    namespace     TEXT    NOT NULL DEFAULT '',
    params        TEXT,
    needs_editing TEXT    NOT NULL DEFAULT '',
    approvals     TEXT,
    approvers     INTEGER NOT NULL DEFAULT 0,
    expires_at    INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 1,
    timeout_ms    INTEGER NOT NULL DEFAULT 0,
    result        TEXT,
    error         TEXT    NOT NULL DEFAULT '',
    actor         TEXT    NOT NULL DEFAULT '',
    claimed_by    TEXT    NOT NULL DEFAULT '',
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX steps_incident ON steps (incident_id, position);
CREATE INDEX steps_queue ON steps (position, id) WHERE status = 'pending' AND queued = 1;
CREATE INDEX steps_running ON steps (lease_until) WHERE status = 'running';
CREATE INDEX steps_awaiting ON steps (expires_at) WHERE status = 'awaiting_approval';

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
