-- TLS certificates of a project (issue 15): what the views show, the
-- chain (public), and the private key sealed by the control plane
-- (ChaCha20-Poly1305 under a key kept outside the database; hex text).
CREATE TABLE certificates (
    id                 TEXT PRIMARY KEY,
    project_id         TEXT NOT NULL REFERENCES projects(id),
    name               TEXT NOT NULL,
    subject            TEXT NOT NULL,
    names              TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL,
    not_before         BIGINT NOT NULL,
    not_after          BIGINT NOT NULL,
    key_type           TEXT NOT NULL,
    chain_length       BIGINT NOT NULL,
    chain_pem          TEXT NOT NULL,
    sealed_key         TEXT NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX certificates_project ON certificates (project_id);
