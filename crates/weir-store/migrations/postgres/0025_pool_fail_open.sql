-- Fail-open (issue 16): when every backend of the pool fails its checks,
-- serve them all rather than none. FALSE: off (the default).
ALTER TABLE pools ADD COLUMN fail_open BOOLEAN NOT NULL DEFAULT FALSE;
