-- The human half of a response: customer communication (drafted, sent
-- only by a person), each incident's phase clocks and recovery watch, and
-- the versions of its post-incident review.
CREATE TABLE communications (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    status      TEXT    NOT NULL,
    channel     TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL DEFAULT '',
    body        TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    sent_by     TEXT    NOT NULL DEFAULT '',
    sent_at     INTEGER,
    error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX communications_incident ON communications (incident_id, id);

-- One row per incident: its phases as the phase package keeps them (JSON),
-- and until when a resolved incident is under recovery watch.
CREATE TABLE incident_phases (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents (id),
    state       TEXT    NOT NULL,
    watch_until INTEGER,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX incident_phases_watch ON incident_phases (watch_until) WHERE watch_until IS NOT NULL;

CREATE TABLE reviews (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    markdown    TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (incident_id, version)
);
