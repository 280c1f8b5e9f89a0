-- The message database of Go Mainflux 0.11's postgres writer after messages_1: one row
-- per SenML record. Channel and publisher are uuid columns, the subtopic is at most
-- 254 characters, and exactly one of the value columns is set. (When Go's postgres
-- reader is the first to start, it makes data_value text instead of bytea; the tests
-- cover that variant too.)
CREATE TABLE messages (
    id           uuid PRIMARY KEY,
    channel      uuid,
    subtopic     varchar(254),
    publisher    uuid,
    protocol     text,
    name         text,
    unit         text,
    value        float,
    string_value text,
    bool_value   boolean,
    data_value   bytea,
    sum          float,
    time         float,
    update_time  float
);

INSERT INTO gorp_migrations (id, applied_at) VALUES ('messages_1', now() - interval '1 year');
