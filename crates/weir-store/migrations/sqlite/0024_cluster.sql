-- Node membership and VIP leases (issue 17). A node's row is written by
-- the node itself every heartbeat; times are milliseconds since the Unix
-- epoch on the database's clock. A lease row is never deleted: releasing
-- expires it, so its epoch (the fencing token) only ever grows.
CREATE TABLE nodes (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    api_address       TEXT NOT NULL,
    data_addresses    TEXT NOT NULL,
    holds_vips        BOOLEAN NOT NULL,
    applied_revision  BIGINT NOT NULL,
    started_ms        BIGINT NOT NULL,
    heartbeat_ms      BIGINT NOT NULL
);
CREATE TABLE vip_leases (
    vip         TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
