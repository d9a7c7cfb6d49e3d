-- The schema of keyseal-postgres, for the default table name `keyseal_blobs`.
--
-- A store creates this itself on first use (when the table is missing and
-- its user may create it), with the table name of its URL (`table=`) in
-- place of `keyseal_blobs`. Run it by hand when the service's database
-- user may not create tables: `psql "$ADMIN_URL" -f schema.sql`, then
-- `GRANT SELECT, INSERT, UPDATE ON keyseal_blobs TO app;` and
-- `GRANT USAGE ON SEQUENCE keyseal_blobs_version TO app;`.
--
-- One row per store. `blob` holds only sealed bytes (AEAD ciphertext and
-- its header): the database never sees a key or a secret. A row whose
-- `blob` is NULL is a store with no blob yet, or one whose blob was
-- quarantined to a row of its own (`<name>.<reason>-<UTC time>`).
--
-- A blob's version is its table's oid, `version` and `nonce` together:
-- every write takes the sequence's next value (so versions grow, even
-- across quarantines) and a random `nonce` (so a version is never repeated
-- after a failover or a restore hands out a sequence value again), and a
-- reader can skip an unchanged blob.
CREATE TABLE IF NOT EXISTS "keyseal_blobs" (
    name       text PRIMARY KEY,
    version    bigint,
    nonce      bigint,
    blob       bytea,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT "keyseal_blobs_blob_has_version"
        CHECK ((version IS NULL) = (blob IS NULL) AND (nonce IS NULL) = (blob IS NULL))
);

CREATE SEQUENCE IF NOT EXISTS "keyseal_blobs_version";
