-- Per-listener resource limits; NULL: the data plane's defaults
-- (dataplane.max_connections, dataplane.tcp_idle_timeout_ms /
-- udp_idle_timeout_ms), which every existing listener keeps.
ALTER TABLE listeners ADD COLUMN max_connections BIGINT;
ALTER TABLE listeners ADD COLUMN idle_timeout_ms BIGINT;
