-- Foundation schema. Every pipeline write is keyed by (tenant, content id, stage) so that a
-- redelivered event never duplicates a row.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE tenants (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    tier        text NOT NULL DEFAULT 'free',
    policy      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    prefix      text NOT NULL,           -- first characters, shown to identify a key
    key_hash    bytea NOT NULL UNIQUE,   -- sha256 of the whole key; the key itself is never stored
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE moderation_results (
    tenant_id     text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    content_id    text NOT NULL,
    stage         text NOT NULL,
    author_id     text NOT NULL,
    content_type  text NOT NULL,
    content_hash  text,
    decision      text NOT NULL,
    flagged       text[] NOT NULL DEFAULT '{}',
    scores        jsonb NOT NULL DEFAULT '{}'::jsonb,
    verdict       jsonb NOT NULL,
    embedding     vector(384),
    received_at   timestamptz NOT NULL,
    decided_at    timestamptz NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, content_id, stage)
);
CREATE INDEX moderation_results_author ON moderation_results (tenant_id, author_id, received_at DESC);

CREATE TABLE evaluation_events (
    tenant_id       text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    content_id      text NOT NULL,
    stage           text NOT NULL,
    evaluator       text NOT NULL,        -- classifier or reviewer model
    scores          jsonb NOT NULL DEFAULT '{}'::jsonb,
    severity_score  real,
    behavior_score  real,
    tokens          integer,
    latency_ms      real,
    prompt_version  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, content_id, stage)
);

CREATE TABLE audit_logs (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    content_id  text,
    stage       text NOT NULL,
    event       text NOT NULL,
    actor       text NOT NULL DEFAULT 'pipeline',
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, content_id, stage, event)
);

CREATE TABLE performance_metrics (
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    content_id  text NOT NULL,
    stage       text NOT NULL,
    metric      text NOT NULL,
    value       double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, content_id, stage, metric)
);

CREATE TABLE action_events (
    tenant_id    text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    content_id   text NOT NULL,
    stage        text NOT NULL,
    action_type  text NOT NULL,
    params       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status       text NOT NULL,           -- AWAITING_APPROVAL, EXECUTED, FAILED, REJECTED
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, content_id, stage)
);

CREATE TABLE users (
    tenant_id       text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id         text NOT NULL,
    behavior_score  real NOT NULL DEFAULT 0,
    strikes         integer NOT NULL DEFAULT 0,
    last_seen_at    timestamptz,
    profile         vector(384),
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE moderators (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        text NOT NULL,
    platform    text NOT NULL DEFAULT 'api',
    status      text NOT NULL DEFAULT 'offline',
    config      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
