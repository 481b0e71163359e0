-- Re-encryption: a pool whose members are dialled over TLS (Octavia's
-- pool tls_enabled). NULL: in the clear; else JSON
-- {"ca": {href, kind, id} | null, "versions": [...], "ciphers": text | null,
--  "alpn": [...]}.
ALTER TABLE pools ADD COLUMN upstream_tls TEXT;
-- 0015 made redirect_https_port an INTEGER (INT4), which the row mapping
-- reads as BIGINT like every other number column: widen it.
ALTER TABLE listeners ALTER COLUMN redirect_https_port TYPE BIGINT;
