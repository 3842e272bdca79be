-- One verdict per item: moderation_results was keyed by (tenant, content id, stage) with
-- stage always 'decide'. It is keyed by (tenant, content id) now, and `decided_by` names the
-- stage that reached the verdict (ingest: rate limited; decide: the policy; review: the
-- review stage, reviewed or skipped).
ALTER TABLE moderation_results RENAME COLUMN stage TO decided_by;
UPDATE moderation_results SET decided_by = CASE
    WHEN decision = 'rate_limited' THEN 'ingest'
    WHEN verdict ? 'review' AND verdict->'review' <> 'null'::jsonb THEN 'review'
    ELSE 'decide' END;
ALTER TABLE moderation_results DROP CONSTRAINT moderation_results_pkey;
ALTER TABLE moderation_results ADD PRIMARY KEY (tenant_id, content_id);

-- A row per verdict inside the verdict's transaction cost the hot path a write and held
-- nothing the verdict does not: its received_at/decided_at (and latency_ms in the stored
-- verdict). Per-stage latency goes to metrics (Prometheus), not to a table.
DROP TABLE performance_metrics;

