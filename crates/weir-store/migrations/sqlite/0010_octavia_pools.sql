-- Server groups as Octavia's pools: a group's own algorithm, backend
-- protocol, session persistence and admin state (NULL algorithm/protocol: each listener's);
-- descriptions, the health monitor's name, and update times.
ALTER TABLE pools ADD COLUMN scheduler TEXT;
ALTER TABLE pools ADD COLUMN protocol TEXT;
ALTER TABLE pools ADD COLUMN persistence TEXT;
ALTER TABLE pools ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE pools ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE pools ADD COLUMN monitor_name TEXT NOT NULL DEFAULT '';
ALTER TABLE pools ADD COLUMN monitor_enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE pools ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE pools SET updated_at = created_at;
ALTER TABLE listeners ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE listeners ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE listeners SET updated_at = created_at;
ALTER TABLE load_balancers ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE load_balancers ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE load_balancers SET updated_at = created_at;
-- A member's own health-check target (Octavia monitor_address/port).
ALTER TABLE backends ADD COLUMN monitor_address TEXT;
ALTER TABLE backends ADD COLUMN monitor_port BIGINT;
-- The headers an HTTP listener adds (Octavia insert_headers).
ALTER TABLE listeners ADD COLUMN forwarded_headers TEXT NOT NULL DEFAULT 'for,proto';
