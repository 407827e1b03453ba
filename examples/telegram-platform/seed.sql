-- Sample data for schema.sql: a platform in the middle of an incident, so
-- that every SQL step of playbook.md returns something to look at.
--
--   * 1,800 PENDING jobs (queue depth > 1000) and 12 RUNNING jobs stuck for
--     35 minutes to 2 hours;
--   * a message failure burst in the last hour (success rate ~80%) with five
--     error types, and six ACTIVE campaigns below 80% success;
--   * failed job executions in the last hour across job and error types;
--   * four licenses above 90% of today's quota, and 7 days of usage;
--   * a brute-force attack: three IPs with more than five failed logins per
--     account in the last hour against users 11-18.
--
-- Timestamps are relative to now(), so the data is "recent" whenever it is
-- loaded. "Last hour" rows are at most 45 minutes old, so they stay in the
-- playbook's one-hour windows for a quarter of an hour; load the file again
-- to refresh it (it truncates first). "Today" follows the session time zone,
-- as CURRENT_DATE does; load and query with the same TimeZone setting.
--
-- Plain SQL without psql meta-commands.

TRUNCATE notifications, usage_logs, licenses, auth_audit_log, job_executions,
    jobs, message_logs, campaigns, users RESTART IDENTITY CASCADE;

-- Users 1-200; 11-18 are the targets of the login attack.
INSERT INTO users (id, email, is_active, created_at)
SELECT g, 'user' || g || '@example.com', g <> 199, now() - interval '1 day' * (400 - g)
FROM generate_series(1, 200) g;

-- Campaigns 1-6 are failing (< 80% success), 7-8 borderline, the rest healthy.
INSERT INTO campaigns (id, user_id, name, status, success_rate, created_at, updated_at)
SELECT g,
       (g - 1) % 30 + 1,
       'Campaign ' || g,
       CASE WHEN g > 36 THEN 'COMPLETED' WHEN g > 34 THEN 'DRAFT' ELSE 'ACTIVE' END,
       CASE g WHEN 1 THEN 0.42 WHEN 2 THEN 0.55 WHEN 3 THEN 0.61 WHEN 4 THEN 0.70
              WHEN 5 THEN 0.74 WHEN 6 THEN 0.79 WHEN 7 THEN 0.85 WHEN 8 THEN 0.88
              ELSE 0.92 + (g % 8) * 0.01 END,
       now() - interval '1 day' * (g % 20 + 1),
       now() - interval '1 minute' * (g % 30)
FROM generate_series(1, 40) g;

-- Last hour: 600 failures, mostly from the failing campaigns...
INSERT INTO message_logs (campaign_id, status, error_type, created_at)
SELECT CASE WHEN g % 5 = 0 THEN 7 + g % 28 ELSE g % 6 + 1 END,
       'FAILED',
       CASE WHEN g % 20 < 8 THEN 'FLOOD_WAIT'
            WHEN g % 20 < 13 THEN 'PEER_FLOOD'
            WHEN g % 20 < 17 THEN 'PROXY_ERROR'
            WHEN g % 20 < 19 THEN 'USER_PRIVACY_RESTRICTED'
            ELSE 'CHAT_WRITE_FORBIDDEN' END,
       now() - interval '1 minute' * (g % 45) - interval '1 second' * (g % 60)
FROM generate_series(1, 600) g;

-- ...against 2,400 sent or delivered messages.
INSERT INTO message_logs (campaign_id, status, created_at)
SELECT g % 34 + 1,
       CASE WHEN g % 3 = 0 THEN 'SENT' ELSE 'DELIVERED' END,
       now() - interval '1 minute' * (g % 45) - interval '1 second' * (g % 60)
FROM generate_series(1, 2400) g;

-- The 23 hours before: normal traffic with about 2% failures.
INSERT INTO message_logs (campaign_id, status, error_type, created_at)
SELECT g % 34 + 1,
       CASE WHEN g % 50 = 0 THEN 'FAILED' ELSE 'DELIVERED' END,
       CASE WHEN g % 50 = 0 THEN (ARRAY['FLOOD_WAIT', 'PROXY_ERROR', 'TIMEOUT'])[g % 3 + 1] END,
       now() - interval '65 minutes' - interval '1 second' * (g * 13 % 82800)
FROM generate_series(1, 8000) g;

-- Queue: 1,800 PENDING jobs enqueued over the last two hours.
INSERT INTO jobs (type, status, payload, created_at, updated_at)
SELECT (ARRAY['send_message', 'sync_contacts', 'parse_group', 'warmup_account', 'check_numbers'])[g % 5 + 1],
       'PENDING',
       jsonb_build_object('campaign_id', g % 34 + 1, 'attempt', g % 3),
       now() - interval '1 second' * (g * 4),
       now() - interval '1 second' * (g * 4)
FROM generate_series(1, 1800) g;

-- 12 RUNNING jobs stuck 35 minutes to 2 hours ago...
INSERT INTO jobs (type, status, payload, created_at, updated_at)
SELECT (ARRAY['send_message', 'parse_group', 'sync_contacts'])[g % 3 + 1],
       'RUNNING',
       jsonb_build_object('worker', 'job-worker-' || (g % 4)),
       now() - interval '1 minute' * (40 + g * 8),
       now() - interval '1 minute' * (35 + g * 8)
FROM generate_series(1, 12) g;

-- ...and 25 healthy ones.
INSERT INTO jobs (type, status, payload, created_at, updated_at)
SELECT (ARRAY['send_message', 'warmup_account'])[g % 2 + 1],
       'RUNNING',
       jsonb_build_object('worker', 'job-worker-' || (g % 4)),
       now() - interval '1 minute' * (g % 10 + 1),
       now() - interval '1 second' * (g * 7)
FROM generate_series(1, 25) g;

-- History: completed and failed jobs over the last day.
INSERT INTO jobs (type, status, created_at, updated_at)
SELECT (ARRAY['send_message', 'sync_contacts', 'parse_group', 'warmup_account', 'check_numbers'])[g % 5 + 1],
       CASE WHEN g % 25 = 0 THEN 'FAILED' ELSE 'COMPLETED' END,
       now() - interval '1 second' * (g * 21 + 120),
       now() - interval '1 second' * (g * 21 + 60)
FROM generate_series(1, 4000) g;

-- Executions of the finished jobs.
INSERT INTO job_executions (job_id, type, status, error_type, duration_ms, created_at)
SELECT id, type,
       CASE status WHEN 'FAILED' THEN 'FAILED' ELSE 'SUCCEEDED' END,
       CASE status WHEN 'FAILED' THEN (ARRAY['TIMEOUT', 'FLOOD_WAIT', 'PROXY_ERROR'])[id % 3 + 1] END,
       200 + (id * 37) % 5000,
       updated_at
FROM jobs
WHERE status IN ('COMPLETED', 'FAILED');

-- Failed attempts in the last hour of jobs that went back to PENDING.
INSERT INTO job_executions (job_id, type, status, error_type, duration_ms, created_at)
SELECT id, type, 'FAILED',
       (ARRAY['TIMEOUT', 'FLOOD_WAIT', 'PROXY_ERROR', 'DB_DEADLOCK', 'TIMEOUT', 'FLOOD_WAIT'])[id / 5 % 6 + 1],
       1000 + (id * 53) % 30000,
       now() - interval '1 minute' * (id % 44 + 1)
FROM jobs
WHERE status = 'PENDING' AND id % 3 <> 0
ORDER BY id
LIMIT 420;

-- Executions of the RUNNING jobs.
INSERT INTO job_executions (job_id, type, status, created_at)
SELECT id, type, 'RUNNING', updated_at
FROM jobs
WHERE status = 'RUNNING';

-- Licenses of users 1-30, 1,000 cost units a day each.
INSERT INTO licenses (id, user_id, plan, daily_quota)
SELECT g, g, (ARRAY['starter', 'pro', 'business'])[g % 3 + 1], 1000
FROM generate_series(1, 30) g;

-- Today: licenses 1-4 above 90% of quota (115%, 96%, 93%, 91%), the rest
-- between 20% and 70%. Every row costs 5.00, spread from midnight to now.
INSERT INTO usage_logs (license_id, action, cost, created_at)
SELECT l.id,
       CASE WHEN l.id = 1 AND g % 4 <> 0 THEN 'SEND_MESSAGE'
            ELSE (ARRAY['SEND_MESSAGE', 'PARSE_GROUP', 'INVITE_USER', 'CHECK_NUMBER'])[g % 4 + 1] END,
       5.00,
       date_trunc('day', now()) + (now() - date_trunc('day', now())) * (g / (n.rows + 1.0))
FROM licenses l
CROSS JOIN LATERAL (SELECT CASE l.id WHEN 1 THEN 230 WHEN 2 THEN 192 WHEN 3 THEN 186 WHEN 4 THEN 182
                                     ELSE 40 + (l.id * 37) % 100 END AS rows) n
CROSS JOIN LATERAL generate_series(1, n.rows) g;

-- The six days before: 60-150 actions a day per license.
INSERT INTO usage_logs (license_id, action, cost, created_at)
SELECT l.id, a.action, a.cost,
       date_trunc('day', now()) - interval '1 day' * d + interval '9 minutes' * g
FROM licenses l
CROSS JOIN generate_series(1, 6) d
CROSS JOIN LATERAL generate_series(1, 60 + (l.id * d * 13) % 90) g
CROSS JOIN LATERAL (
    SELECT (ARRAY['SEND_MESSAGE', 'SEND_MESSAGE', 'PARSE_GROUP', 'INVITE_USER', 'CHECK_NUMBER', 'WARMUP'])[g % 6 + 1] AS action,
           (ARRAY[5.00, 5.00, 12.50, 8.00, 1.00, 3.00])[g % 6 + 1] AS cost
) a;

-- Normal logins in the last hour.
INSERT INTO auth_audit_log (user_id, event, ip_address, user_agent, created_at)
SELECT g % 200 + 1, 'LOGIN_SUCCESS',
       ('10.20.' || (g % 16) || '.' || (g % 250 + 2))::inet,
       (ARRAY['Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0',
              'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15',
              'TelegramPlatform-Android/3.2.1'])[g % 3 + 1],
       now() - interval '1 minute' * (g % 45) - interval '1 second' * (g % 60)
FROM generate_series(1, 300) g;

-- Ordinary typos: one or two failures for users 30-40 (below the lock
-- threshold of more than five).
INSERT INTO auth_audit_log (user_id, event, ip_address, user_agent, created_at)
SELECT u, 'LOGIN_FAILED', ('10.20.3.' || u)::inet,
       'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0',
       now() - interval '1 minute' * (u % 40 + k)
FROM generate_series(30, 40) u
CROSS JOIN generate_series(1, 2) k
WHERE k = 1 OR u % 2 = 0;

-- The attack, last 45 minutes: 203.0.113.7 hits users 11-14 nine times
-- each, 198.51.100.23 hits 15-18 seven times each, 192.0.2.150 tries all
-- eight three times each; 203.0.113.7 also sprays unknown accounts.
INSERT INTO auth_audit_log (user_id, event, ip_address, user_agent, created_at)
SELECT t.user_id, 'LOGIN_FAILED', t.ip::inet, t.ua,
       now() - interval '1 minute' * ((t.user_id * 7 + k * 3) % 44) - interval '1 second' * k
FROM (
    SELECT u AS user_id, '203.0.113.7' AS ip, 'python-requests/2.31.0' AS ua, 9 AS n FROM generate_series(11, 14) u
    UNION ALL
    SELECT u, '198.51.100.23', 'curl/8.4.0', 7 FROM generate_series(15, 18) u
    UNION ALL
    SELECT u, '192.0.2.150', 'Mozilla/5.0 (compatible; Hydra)', 3 FROM generate_series(11, 18) u
) t
CROSS JOIN LATERAL generate_series(1, t.n) k;

INSERT INTO auth_audit_log (user_id, event, ip_address, user_agent, created_at)
SELECT NULL, 'LOGIN_FAILED', '203.0.113.7', 'python-requests/2.31.0',
       now() - interval '1 minute' * (g % 44) - interval '1 second' * g
FROM generate_series(1, 20) g;

-- Older noise: a failure streak three hours ago, outside the one-hour window.
INSERT INTO auth_audit_log (user_id, event, ip_address, user_agent, created_at)
SELECT 50, 'LOGIN_FAILED', '10.20.9.9', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0',
       now() - interval '3 hours' - interval '1 minute' * g
FROM generate_series(1, 10) g;

INSERT INTO notifications (user_id, type, title, message, is_read, created_at)
SELECT g, 'INFO', 'Welcome', 'Your account is ready.', true, now() - interval '30 days'
FROM generate_series(1, 30) g;

ANALYZE;
