-- Images and audio. The bytes are stored once per tenant and content hash (sha256) and
-- travel through topics only as that reference; the worker deletes them when they expire
-- (GOVA_MEDIA_RETENTION_S).
CREATE TABLE media_blobs (
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    sha256      text NOT NULL,
    kind        text NOT NULL,
    format      text NOT NULL,
    size        integer NOT NULL,
    data        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);
-- Media formats are compressed already: keep TOAST from trying again.
ALTER TABLE media_blobs ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX media_blobs_expiry ON media_blobs (expires_at);

-- A tenant's bank of known-bad images, as PDQ hashes (Meta HMA's shape): matched by
-- Hamming distance.
CREATE TABLE image_hash_bank (
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id          text NOT NULL,
    pdq         bit(256) NOT NULL,
    label       text NOT NULL DEFAULT '',
    category    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- Images already scored, by PDQ hash: a near-duplicate (a re-upload, re-encoded or resized)
-- gets the earlier scores without running the model again. Deleted with the media.
CREATE TABLE image_hashes_seen (
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    content_id  text NOT NULL,
    pdq         bit(256) NOT NULL,
    model       text NOT NULL,
    scores      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, content_id)
);
CREATE INDEX image_hashes_seen_age ON image_hashes_seen (created_at);
