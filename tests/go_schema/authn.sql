-- The authn database of Go Mainflux 0.11 after its one migration, "authn": the API keys
-- (type 2) it issued, identified by the JWT id together with the issuing user's email.
CREATE TABLE keys (
    id         uuid NOT NULL,
    type       smallint,
    issuer     varchar(254) NOT NULL,
    issued_at  timestamp NOT NULL,
    expires_at timestamp,
    PRIMARY KEY (id, issuer)
);

INSERT INTO gorp_migrations (id, applied_at) VALUES ('authn', now() - interval '1 year');
