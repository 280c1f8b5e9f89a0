-- The users database of Go Mainflux 0.11 after its migrations users_1 and users_2:
-- an account per email with a bcrypt hash (always 60 characters) and, since users_2,
-- free-form metadata.
CREATE TABLE users (
    email    varchar(254) PRIMARY KEY,
    password char(60) NOT NULL,
    metadata jsonb
);

INSERT INTO gorp_migrations (id, applied_at) VALUES
    ('users_1', now() - interval '1 year'),
    ('users_2', now() - interval '6 months');
