-- Extra credentials of a project, each with a role (reader, member,
-- observer, admin): a bearer token (its hash) and an access key. The
-- token and key a project is created with stay on `projects` (member).
CREATE TABLE credentials (
    access_key_id     TEXT COLLATE "C" PRIMARY KEY,
    project_id        TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    role              TEXT NOT NULL,
    name              TEXT NOT NULL,
    token_hash        TEXT NOT NULL UNIQUE,
    access_key_secret TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX credentials_project ON credentials (project_id);
