-- Weir schema, version 1. Portable SQL where it can be: PostgreSQL gets its
-- own copy of this file with BIGSERIAL and BOOLEAN spelled its way.

CREATE TABLE projects (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    token_hash        TEXT NOT NULL UNIQUE,
    access_key_id     TEXT NOT NULL UNIQUE,
    access_key_secret TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);

CREATE TABLE vpcs (
    id                 TEXT PRIMARY KEY,
    project_id         TEXT NOT NULL REFERENCES projects(id),
    name               TEXT NOT NULL,
    cidr               TEXT NOT NULL,
    has_border_gateway BOOLEAN NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX vpcs_project ON vpcs(project_id, id);

CREATE TABLE subnets (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    vpc_id     TEXT NOT NULL REFERENCES vpcs(id),
    name       TEXT NOT NULL,
    cidr       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX subnets_vpc ON subnets(vpc_id, id);
CREATE INDEX subnets_project ON subnets(project_id, id);

CREATE TABLE instances (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects(id),
    subnet_id     TEXT NOT NULL REFERENCES subnets(id),
    vpc_id        TEXT NOT NULL REFERENCES vpcs(id),
    name          TEXT NOT NULL,
    instance_type TEXT NOT NULL,
    state         TEXT NOT NULL,
    private_ip    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (vpc_id, private_ip)
);
CREATE INDEX instances_project ON instances(project_id, id);
CREATE INDEX instances_ip ON instances(private_ip);

CREATE TABLE load_balancers (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects(id),
    name            TEXT NOT NULL,
    subnet_id       TEXT NOT NULL REFERENCES subnets(id),
    vpc_id          TEXT NOT NULL REFERENCES vpcs(id),
    vip             TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    default_pool_id TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX load_balancers_project ON load_balancers(project_id, id);

CREATE TABLE listeners (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects(id),
    lb_id           TEXT NOT NULL REFERENCES load_balancers(id),
    name            TEXT NOT NULL,
    protocol        TEXT NOT NULL,
    ports           TEXT NOT NULL,
    forwarding_mode TEXT NOT NULL,
    scheduler       TEXT NOT NULL,
    proxy_protocol  TEXT NOT NULL,
    default_pool_id TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX listeners_lb ON listeners(lb_id, id);

CREATE TABLE pools (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id),
    lb_id       TEXT NOT NULL REFERENCES load_balancers(id),
    listener_id TEXT REFERENCES listeners(id),
    name        TEXT NOT NULL,
    -- Kept by triggers on backends so quota checks need no COUNT(*).
    backend_count BIGINT NOT NULL DEFAULT 0,
    -- Active health check; hc_type NULL means none.
    hc_type        TEXT,
    hc_interval_ms BIGINT,
    hc_timeout_ms  BIGINT,
    hc_rise        INTEGER,
    hc_fall        INTEGER,
    hc_port        INTEGER,
    hc_path        TEXT,
    hc_codes       TEXT,
    drain_timeout_ms BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX pools_lb ON pools(lb_id);

CREATE TABLE backends (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id),
    pool_id     TEXT NOT NULL REFERENCES pools(id),
    lb_id       TEXT NOT NULL REFERENCES load_balancers(id),
    listener_id TEXT REFERENCES listeners(id),
    instance_id TEXT REFERENCES instances(id),
    address     TEXT NOT NULL,
    -- NULL: inherits; one port; or a comma-separated sorted list.
    ports       TEXT,
    -- The port part of the identity inside the pool (see BackendPorts::key).
    port_key    INTEGER NOT NULL,
    weight      INTEGER NOT NULL,
    enabled     BOOLEAN NOT NULL,
    backup      BOOLEAN NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (pool_id, address, port_key)
);
CREATE INDEX backends_pool ON backends(pool_id, id);
CREATE INDEX backends_pool_instance ON backends(pool_id, instance_id);
CREATE INDEX backends_lb ON backends(lb_id);

-- pools.backend_count follows every insert and delete, whoever writes.
CREATE TRIGGER backends_count_insert AFTER INSERT ON backends BEGIN
    UPDATE pools SET backend_count = backend_count + 1 WHERE id = NEW.pool_id;
END;
CREATE TRIGGER backends_count_delete AFTER DELETE ON backends BEGIN
    UPDATE pools SET backend_count = backend_count - 1 WHERE id = OLD.pool_id;
END;

CREATE TABLE idempotency_records (
    project_id  TEXT NOT NULL,
    operation   TEXT NOT NULL,
    token       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project_id, operation, token)
);

-- Every committed change, in commit order; the data plane follows it.
CREATE TABLE change_log (
    revision   INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    op         TEXT NOT NULL,
    -- What a follower must reload: the load balancer and the pool.
    lb_id      TEXT,
    pool_id    TEXT
);
