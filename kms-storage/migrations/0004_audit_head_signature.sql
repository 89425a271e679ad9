-- The audit log's head is signed (Ed25519) by the service that writes the log, so
-- records cut off the end, or a chain rewritten and re-hashed, no longer verify. The
-- genesis row (seq 0) is signed when the writer first opens the log.
ALTER TABLE {prefix}t_key_operation_log_head
    ADD COLUMN log_id    VARCHAR(64) NULL,
    ADD COLUMN signature CHAR(128)   NULL;
