-- Re-encryption: a pool whose members are dialled over TLS (Octavia's
-- pool tls_enabled). NULL: in the clear; else JSON
-- {"ca": {href, kind, id} | null, "versions": [...], "ciphers": text | null,
--  "alpn": [...]}.
ALTER TABLE pools ADD COLUMN upstream_tls TEXT;
