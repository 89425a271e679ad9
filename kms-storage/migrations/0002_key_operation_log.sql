-- The chained audit log. Each row carries the hash of the previous row; the head row
-- holds the last seq and hash and is locked (SELECT ... FOR UPDATE) by every append,
-- so appends are serialised and the chain cannot fork.
CREATE TABLE IF NOT EXISTS {prefix}t_key_operation_log (
    seq          BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    event_type   VARCHAR(32)     NOT NULL,
    user_id      VARCHAR(255)    NOT NULL,
    key_id       VARCHAR(64)     NULL,
    operation    VARCHAR(255)    NOT NULL,
    result       VARCHAR(16)     NOT NULL,
    created_time BIGINT UNSIGNED NOT NULL,
    service_name VARCHAR(128)    NOT NULL,
    node_id      VARCHAR(64)     NULL,
    duration_ms  BIGINT UNSIGNED NOT NULL,
    data_hash    VARCHAR(128)    NOT NULL,
    audit_trail  TEXT            NOT NULL,
    prev_hash    CHAR(64)        NOT NULL,
    hash         CHAR(64)        NOT NULL,
    KEY idx_key_id (key_id),
    KEY idx_created_time (created_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS {prefix}t_key_operation_log_head (
    id   TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    seq  BIGINT UNSIGNED  NOT NULL,
    hash CHAR(64)         NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT IGNORE INTO {prefix}t_key_operation_log_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
