-- Actions: one row per action of a moderator on an item, through its lifecycle (PROPOSED →
-- AWAITING_APPROVAL | APPROVED → EXECUTING → EXECUTED | FAILED, REJECTED, EXPIRED, SHADOW).
-- The id is derived from (tenant, moderator, content id, type), so a redelivered proposal
-- never makes a second row; `history` keeps every transition, and the audit log a row each.
DROP TABLE action_events;

CREATE TABLE actions (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    moderator   text NOT NULL,
    content_id  text NOT NULL,
    author_id   text NOT NULL,
    type        text NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}'::jsonb,
    status      text NOT NULL,
    source      text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    target      jsonb NOT NULL DEFAULT '{}'::jsonb,
    history     jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at  timestamptz
);
CREATE INDEX actions_listing ON actions (tenant_id, created_at DESC, id DESC);
CREATE INDEX actions_content ON actions (tenant_id, content_id);
CREATE INDEX actions_open ON actions (status, created_at)
    WHERE status IN ('AWAITING_APPROVAL', 'EXECUTING');

-- A moderator runs once started; until then (and after a stop) it proposes no actions.
UPDATE moderators SET status = 'stopped' WHERE status = 'offline';
ALTER TABLE moderators ALTER COLUMN status SET DEFAULT 'stopped';
-- Secrets a moderator holds (its webhook signing secret), encrypted with GOVA_SECRET_KEY.
ALTER TABLE moderators ADD COLUMN secrets jsonb NOT NULL DEFAULT '{}'::jsonb;
-- The tenant's Discord bot token, encrypted.
ALTER TABLE tenants ADD COLUMN discord jsonb NOT NULL DEFAULT '{}'::jsonb;
