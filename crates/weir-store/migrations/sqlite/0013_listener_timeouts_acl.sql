-- Per-listener backend connect and idle timeouts, the inspection bound
-- (Octavia's timeout_member_connect, timeout_member_data,
-- timeout_tcp_inspect; NULL: the data plane's defaults), and the client
-- networks a listener allows (Octavia allowed_cidrs; comma-separated,
-- empty: any client).
ALTER TABLE listeners ADD COLUMN connect_timeout_ms BIGINT;
ALTER TABLE listeners ADD COLUMN backend_timeout_ms BIGINT;
ALTER TABLE listeners ADD COLUMN inspect_timeout_ms BIGINT;
ALTER TABLE listeners ADD COLUMN allowed_cidrs TEXT NOT NULL DEFAULT '';
