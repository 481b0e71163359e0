-- Compaction: the change log keeps its newest rows and records the
-- revision through which older ones were deleted, so a follower behind
-- that horizon knows to reload everything instead of missing changes;
-- idempotency records are swept by age.
CREATE TABLE change_log_horizon (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO change_log_horizon (id, revision) VALUES (1, 0);
CREATE INDEX idempotency_records_created_at ON idempotency_records (created_at);
