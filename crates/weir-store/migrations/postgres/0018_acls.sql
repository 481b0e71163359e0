-- Access control lists (issue 16): a project's named lists of client
-- networks, entries a JSON list of {cidr, comment} in the order added
-- (one row, so a change of entries is one statement), and the ACL a
-- listener applies with its mode (allow / deny). (0017 is another
-- change's.)
CREATE TABLE acls (
    id          TEXT COLLATE "C" PRIMARY KEY,
    project_id  TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    name        TEXT NOT NULL,
    ip_version  TEXT NOT NULL,
    entries     TEXT NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX acls_project ON acls (project_id);
ALTER TABLE listeners ADD COLUMN acl_id TEXT COLLATE "C";
ALTER TABLE listeners ADD COLUMN acl_mode TEXT;
CREATE INDEX listeners_acl ON listeners (acl_id);
