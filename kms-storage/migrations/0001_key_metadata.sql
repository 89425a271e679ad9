-- Key metadata. Never holds shard content. `{prefix}` is replaced by the configured
-- table prefix (empty by default).
CREATE TABLE IF NOT EXISTS {prefix}t_key_metadata (
    key_id      VARCHAR(64)       NOT NULL PRIMARY KEY,
    key_type    VARCHAR(16)       NOT NULL,
    curve       VARCHAR(16)       NOT NULL,
    algo_type   VARCHAR(16)       NOT NULL,
    key_size    SMALLINT UNSIGNED NOT NULL,
    shard_count SMALLINT UNSIGNED NOT NULL,
    threshold   SMALLINT UNSIGNED NOT NULL,
    public_key  VARCHAR(512)      NOT NULL,
    holders     TEXT              NOT NULL,
    status      VARCHAR(16)       NOT NULL,
    epoch       BIGINT UNSIGNED   NOT NULL,
    created_at  BIGINT UNSIGNED   NOT NULL,
    updated_at  BIGINT UNSIGNED   NOT NULL,
    KEY idx_status (status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
