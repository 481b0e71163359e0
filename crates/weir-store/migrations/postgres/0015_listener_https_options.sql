-- Issue 15, dialect part: an HTTP listener's redirect to the HTTPS
-- listener of its load balancer on this port (NULL: it forwards), and an
-- HTTPS listener's domain extensions as a JSON list of
-- [id, domain, certificate id] triples (empty for every other protocol).
ALTER TABLE listeners ADD COLUMN redirect_https_port BIGINT;
ALTER TABLE listeners ADD COLUMN domain_extensions TEXT NOT NULL DEFAULT '[]';
