-- What an HTTP(S) check sends besides its path (Octavia http_method,
-- http_version, domain_name); NULL is what checks sent before: GET over
-- HTTP/1.1 with the member's address as Host.
ALTER TABLE pools ADD COLUMN hc_method TEXT;
ALTER TABLE pools ADD COLUMN hc_version TEXT;
ALTER TABLE pools ADD COLUMN hc_host TEXT;
