-- People who sign in, are paged and act from chat, and their console
-- sessions. Users from firebreak.yaml are written here at start (source
-- 'config'); `firebreak user create` adds others (source 'cli').
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    role             TEXT    NOT NULL,
    password_hash    TEXT    NOT NULL DEFAULT '',
    source           TEXT    NOT NULL,
    email            TEXT    NOT NULL DEFAULT '',
    slack_id         TEXT    NOT NULL DEFAULT '',
    telegram_chat_id TEXT    NOT NULL DEFAULT '',
    teams_webhook    TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    created_by       TEXT    NOT NULL DEFAULT ''
);

-- A session's secret is the cookie; only its SHA-256 digest is kept.
CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE,
    user_name  TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    via        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);
