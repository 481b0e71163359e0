-- Client-certificate verification (mTLS) of a TERMINATED_HTTPS listener
-- (Octavia's client_authentication, client_ca_tls_container_ref,
-- client_crl_container_ref). NULL: off; else JSON
-- {"mode": "NONE" | "OPTIONAL" | "MANDATORY",
--  "ca": {href, kind, id} | null, "crl": {href, kind, id} | null}.
ALTER TABLE listeners ADD COLUMN client_auth TEXT;
