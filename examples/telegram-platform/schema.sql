-- Schema of the example Telegram platform: every table and view that the SQL
-- steps of playbook.md read or write. Load it into a scratch database, then
-- seed.sql:
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f schema.sql -f seed.sql
--
-- Plain SQL without psql meta-commands, so Go code can run it statement by
-- statement as well. Running it again drops and recreates everything.
-- Objects are created in the first schema of search_path.

DROP VIEW IF EXISTS license_daily_usage_view;
DROP TABLE IF EXISTS notifications, usage_logs, licenses, auth_audit_log,
    job_executions, jobs, message_logs, campaigns, users CASCADE;

CREATE TABLE users (
    id         bigint PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    is_active  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaigns (
    id           bigint PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    name         text NOT NULL,
    status       text NOT NULL DEFAULT 'ACTIVE'
                 CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'COMPLETED')),
    -- Share of messages delivered, 0..1, maintained by the application.
    success_rate numeric(5, 4) CHECK (success_rate BETWEEN 0 AND 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE message_logs (
    id          bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    status      text NOT NULL CHECK (status IN ('SENT', 'DELIVERED', 'FAILED')),
    -- Set when status = 'FAILED': FLOOD_WAIT, PEER_FLOOD, PROXY_ERROR, ...
    error_type  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'FAILED') = (error_type IS NOT NULL))
);
CREATE INDEX message_logs_status_created_at ON message_logs (status, created_at);

CREATE TABLE jobs (
    id         bigserial PRIMARY KEY,
    type       text NOT NULL,
    status     text NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED')),
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_status_updated_at ON jobs (status, updated_at);

CREATE TABLE job_executions (
    id          bigserial PRIMARY KEY,
    job_id      bigint NOT NULL REFERENCES jobs (id),
    type        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
    error_type  text,
    duration_ms integer,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_executions_status_created_at ON job_executions (status, created_at);

CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id),
    type       text NOT NULL CHECK (type IN ('INFO', 'WARNING', 'SECURITY', 'BILLING')),
    title      text NOT NULL,
    message    text NOT NULL,
    is_read    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE licenses (
    id          bigint PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    plan        text NOT NULL,
    -- Cost units the license may spend per day.
    daily_quota numeric(12, 2) NOT NULL CHECK (daily_quota > 0)
);

CREATE TABLE usage_logs (
    id         bigserial PRIMARY KEY,
    license_id bigint NOT NULL REFERENCES licenses (id),
    action     text NOT NULL,
    cost       numeric(10, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_logs_license_created_at ON usage_logs (license_id, created_at);

CREATE TABLE auth_audit_log (
    id         bigserial PRIMARY KEY,
    -- NULL when the login named no known account.
    user_id    bigint REFERENCES users (id),
    event      text NOT NULL
               CHECK (event IN ('LOGIN_SUCCESS', 'LOGIN_FAILED', 'LOGOUT', 'PASSWORD_RESET')),
    ip_address inet NOT NULL,
    user_agent text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_audit_log_event_created_at ON auth_audit_log (event, created_at);

-- Spend per license and calendar day (in the session's time zone, like
-- CURRENT_DATE), against the license's daily quota.
CREATE VIEW license_daily_usage_view AS
SELECT l.id                          AS license_id,
       l.user_id,
       u.created_at::date            AS date,
       sum(u.cost)                   AS used,
       l.daily_quota                 AS quota,
       round(sum(u.cost) / l.daily_quota, 4) AS usage_ratio
FROM licenses l
JOIN usage_logs u ON u.license_id = l.id
GROUP BY l.id, l.user_id, u.created_at::date, l.daily_quota;
