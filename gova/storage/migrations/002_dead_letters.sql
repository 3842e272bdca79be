-- Events a stage could not process, kept for operators and so that a caller polling the
-- content id learns it failed instead of waiting forever. No tenant foreign key: a poison
-- message may name no tenant, or one that does not exist.
CREATE TABLE dead_letters (
    topic       text NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint NOT NULL,
    stage       text NOT NULL,
    tenant_id   text,
    content_id  text,
    key         text,
    error       text NOT NULL,
    payload     text NOT NULL,
    failed_at   timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset", stage)
);
CREATE INDEX dead_letters_content ON dead_letters (tenant_id, content_id);
