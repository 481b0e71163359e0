-- Slow start: a joining or recovering backend ramps up to its weight over
-- this many milliseconds; 0 (every existing pool) is off.
ALTER TABLE pools ADD COLUMN slow_start_ms BIGINT NOT NULL DEFAULT 0;
