-- The durable job queue (internal/job). Named job_queue, not jobs: the
-- example target system has a jobs table of its own.
CREATE TABLE job_queue (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL,
    unique_key   TEXT,
    payload      TEXT,
    priority     INTEGER NOT NULL DEFAULT 0,
    run_at       INTEGER NOT NULL,
    state        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT '',
    claimed_by   TEXT    NOT NULL DEFAULT '',
    lease_until  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
-- Claim order: priority, then run_at, then id.
CREATE INDEX job_queue_due ON job_queue (priority, run_at, id) WHERE state = 'pending';
CREATE INDEX job_queue_next ON job_queue (run_at) WHERE state = 'pending';
CREATE INDEX job_queue_leases ON job_queue (lease_until) WHERE state = 'running';
CREATE INDEX job_queue_finished ON job_queue (finished_at) WHERE finished_at IS NOT NULL;
-- One unfinished job per key; a NULL key is no key.
CREATE UNIQUE INDEX job_queue_unique_key ON job_queue (unique_key) WHERE state IN ('pending', 'running');
