-- Tags (Octavia API 2.5) on load balancers, listeners, pools and
-- members, and a pool's health monitor's own: a JSON array of strings.
-- (0011 belongs to another branch; migrations apply by version, so a gap
-- is harmless.)
ALTER TABLE load_balancers ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE listeners ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE pools ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE pools ADD COLUMN monitor_tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE backends ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
