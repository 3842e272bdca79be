-- The LLM reviewer: each tenant's provider settings (the key encrypted), moderators'
-- guidelines (moderators.config), and token usage metered per tenant, moderator and month.
ALTER TABLE tenants ADD COLUMN llm jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE TABLE llm_usage (
    tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    moderator  text NOT NULL,
    month      date NOT NULL,
    tokens     bigint NOT NULL DEFAULT 0,
    reviews    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, moderator, month)
);
