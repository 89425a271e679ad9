-- Compare-and-swap and leases on key metadata, and the cluster id of the store.
-- `revision` is bumped by every update (UPDATE ... WHERE revision = ?), `lease` holds
-- the JSON of the mutating operation that holds the key, if any.
ALTER TABLE {prefix}t_key_metadata
    ADD COLUMN revision BIGINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN lease TEXT NULL;
-- One row (id = 1): the cluster this store belongs to, checked by recovery.
CREATE TABLE IF NOT EXISTS {prefix}t_kms_cluster (
    id         TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    cluster_id VARCHAR(64)      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
