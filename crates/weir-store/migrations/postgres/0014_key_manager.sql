-- The key manager (Barbican's secrets and containers) and listeners that
-- serve from it (Octavia's TERMINATED_HTTPS). A secret's payload is
-- sealed by the control plane (ChaCha20-Poly1305 under the secrets key,
-- hex text) and NULL until stored (Barbican's two-step create).
CREATE TABLE secrets (
    id             TEXT COLLATE "C" PRIMARY KEY,
    project_id     TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    name           TEXT NOT NULL,
    secret_type    TEXT NOT NULL,
    algorithm      TEXT,
    bit_length     BIGINT,
    mode           TEXT,
    expiration     BIGINT,
    content_type   TEXT,
    sealed_payload TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX secrets_project ON secrets (project_id);
-- A container's secrets: a JSON list of [name, secret id] pairs.
CREATE TABLE containers (
    id          TEXT COLLATE "C" PRIMARY KEY,
    project_id  TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    secret_refs TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX containers_project ON containers (project_id);
-- A listener's key-manager refs (JSON list of {href, kind, id}, the
-- first the default) and TLS options (JSON lists; NULL ciphers: all).
ALTER TABLE listeners ADD COLUMN tls_refs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE listeners ADD COLUMN tls_versions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE listeners ADD COLUMN tls_ciphers TEXT;
ALTER TABLE listeners ADD COLUMN alpn_protocols TEXT NOT NULL DEFAULT '[]';
