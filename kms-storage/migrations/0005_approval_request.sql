-- Requests held back by a risk rule until approvers release them. The whole request is
-- one JSON document; `version` is its compare-and-swap counter (UPDATE ... WHERE
-- version = ?), so two gateway instances never both run an approved request.
CREATE TABLE IF NOT EXISTS {prefix}t_kms_approval_request (
    request_id  VARCHAR(64)     NOT NULL PRIMARY KEY,
    key_id      VARCHAR(64)     NULL,
    requester   VARCHAR(255)    NOT NULL,
    state       VARCHAR(32)     NOT NULL,
    version     BIGINT UNSIGNED NOT NULL,
    created_ms  BIGINT UNSIGNED NOT NULL,
    doc         MEDIUMTEXT      NOT NULL,
    KEY idx_approval_key (key_id),
    KEY idx_approval_state (state)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
