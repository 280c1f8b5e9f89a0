-- The things database of Go Mainflux 0.11 after things_1, things_2 and things_3.
-- Things and channels are keyed by id and owner email; things_1 made both metadata
-- columns json, things_2 and things_3 turned them into jsonb. Connections refer to
-- both sides and go away with either.
CREATE TABLE things (
    id       uuid,
    owner    varchar(254),
    key      varchar(4096) NOT NULL UNIQUE,
    name     varchar(1024),
    metadata json,
    PRIMARY KEY (id, owner)
);

CREATE TABLE channels (
    id       uuid,
    owner    varchar(254),
    name     varchar(1024),
    metadata json,
    PRIMARY KEY (id, owner)
);

CREATE TABLE connections (
    channel_id    uuid,
    channel_owner varchar(254),
    thing_id      uuid,
    thing_owner   varchar(254),
    PRIMARY KEY (channel_id, channel_owner, thing_id, thing_owner),
    FOREIGN KEY (channel_id, channel_owner) REFERENCES channels (id, owner)
        ON DELETE CASCADE ON UPDATE CASCADE,
    FOREIGN KEY (thing_id, thing_owner) REFERENCES things (id, owner)
        ON DELETE CASCADE ON UPDATE CASCADE
);

ALTER TABLE things ALTER COLUMN metadata TYPE jsonb USING metadata::text::jsonb;
ALTER TABLE channels ALTER COLUMN metadata TYPE jsonb USING metadata::text::jsonb;

INSERT INTO gorp_migrations (id, applied_at) VALUES
    ('things_1', now() - interval '2 years'),
    ('things_2', now() - interval '1 year'),
    ('things_3', now() - interval '1 year');
