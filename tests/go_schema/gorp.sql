-- The table in which Go Mainflux's migration library records what it applied:
-- one row per migration id, with the time it ran.
CREATE TABLE IF NOT EXISTS gorp_migrations (
    id         text PRIMARY KEY,
    applied_at timestamp with time zone
);
