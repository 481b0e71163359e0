-- Weir schema for PostgreSQL: the same tables and columns as the SQLite
-- schema after all of its migrations (migrations/sqlite), spelled for
-- PostgreSQL: every integer is BIGINT (the store reads them as i64), ids
-- compare bytewise (COLLATE "C", as SQLite does) so keyset paging orders
-- the same everywhere, and the backend count is kept by a statement-level
-- trigger.

CREATE TABLE projects (
    id                TEXT COLLATE "C" PRIMARY KEY,
    name              TEXT NOT NULL,
    token_hash        TEXT NOT NULL UNIQUE,
    access_key_id     TEXT NOT NULL UNIQUE,
    access_key_secret TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);

CREATE TABLE vpcs (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    project_id         TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    name               TEXT NOT NULL,
    cidr               TEXT NOT NULL,
    has_border_gateway BOOLEAN NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX vpcs_project ON vpcs(project_id, id);

CREATE TABLE subnets (
    id         TEXT COLLATE "C" PRIMARY KEY,
    project_id TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    vpc_id     TEXT COLLATE "C" NOT NULL REFERENCES vpcs(id),
    name       TEXT NOT NULL,
    cidr       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX subnets_vpc ON subnets(vpc_id, id);
CREATE INDEX subnets_project ON subnets(project_id, id);

CREATE TABLE instances (
    id            TEXT COLLATE "C" PRIMARY KEY,
    project_id    TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    subnet_id     TEXT COLLATE "C" NOT NULL REFERENCES subnets(id),
    vpc_id        TEXT COLLATE "C" NOT NULL REFERENCES vpcs(id),
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
    id              TEXT COLLATE "C" PRIMARY KEY,
    project_id      TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    name            TEXT NOT NULL,
    subnet_id       TEXT COLLATE "C" NOT NULL REFERENCES subnets(id),
    vpc_id          TEXT COLLATE "C" NOT NULL REFERENCES vpcs(id),
    vip             TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    default_pool_id TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX load_balancers_project ON load_balancers(project_id, id);

CREATE TABLE listeners (
    id              TEXT COLLATE "C" PRIMARY KEY,
    project_id      TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    lb_id           TEXT COLLATE "C" NOT NULL REFERENCES load_balancers(id),
    name            TEXT NOT NULL,
    protocol        TEXT NOT NULL,
    ports           TEXT NOT NULL,
    forwarding_mode TEXT NOT NULL,
    scheduler       TEXT NOT NULL,
    proxy_protocol  TEXT NOT NULL,
    default_pool_id TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    -- The port the LB-wide pool is dialled on for this listener; NULL: the
    -- client's port.
    backend_port    BIGINT,
    -- The server group this listener forwards to instead, if any (the
    -- reference is added below, once pools exist).
    group_pool_id   TEXT COLLATE "C",
    enabled         BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX listeners_lb ON listeners(lb_id, id);

CREATE TABLE pools (
    id          TEXT COLLATE "C" PRIMARY KEY,
    project_id  TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    lb_id       TEXT COLLATE "C" NOT NULL REFERENCES load_balancers(id),
    listener_id TEXT COLLATE "C" REFERENCES listeners(id),
    name        TEXT NOT NULL,
    -- Kept by a trigger on backends so quota checks need no COUNT(*).
    backend_count BIGINT NOT NULL DEFAULT 0,
    -- Active health check; hc_type NULL means none.
    hc_type        TEXT,
    hc_interval_ms BIGINT,
    hc_timeout_ms  BIGINT,
    hc_rise        BIGINT,
    hc_fall        BIGINT,
    hc_port        BIGINT,
    hc_path        TEXT,
    hc_codes       TEXT,
    drain_timeout_ms BIGINT NOT NULL,
    slow_start_ms    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);
CREATE INDEX pools_lb ON pools(lb_id);
ALTER TABLE listeners ADD FOREIGN KEY (group_pool_id) REFERENCES pools(id);

CREATE TABLE backends (
    id          TEXT COLLATE "C" PRIMARY KEY,
    project_id  TEXT COLLATE "C" NOT NULL REFERENCES projects(id),
    pool_id     TEXT COLLATE "C" NOT NULL REFERENCES pools(id),
    lb_id       TEXT COLLATE "C" NOT NULL REFERENCES load_balancers(id),
    listener_id TEXT COLLATE "C" REFERENCES listeners(id),
    instance_id TEXT COLLATE "C" REFERENCES instances(id),
    subnet_id   TEXT COLLATE "C" REFERENCES subnets(id),
    address     TEXT NOT NULL,
    -- NULL: inherits; one port; or a bracketed list.
    ports       TEXT,
    -- The port part of the identity inside the pool (see BackendPorts::key).
    port_key    BIGINT NOT NULL,
    weight      BIGINT NOT NULL,
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

-- pools.backend_count follows every insert and delete, whoever writes; one
-- update per pool and statement, however many rows a registration adds.
CREATE FUNCTION backends_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pools p SET backend_count = p.backend_count + n.count
    FROM (SELECT pool_id, COUNT(*) AS count FROM inserted GROUP BY pool_id) n
    WHERE p.id = n.pool_id;
    RETURN NULL;
END $$;
CREATE FUNCTION backends_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pools p SET backend_count = p.backend_count - n.count
    FROM (SELECT pool_id, COUNT(*) AS count FROM deleted GROUP BY pool_id) n
    WHERE p.id = n.pool_id;
    RETURN NULL;
END $$;
CREATE TRIGGER backends_count_insert AFTER INSERT ON backends
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION backends_count_inserted();
CREATE TRIGGER backends_count_delete AFTER DELETE ON backends
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION backends_count_deleted();

CREATE TABLE idempotency_records (
    project_id  TEXT COLLATE "C" NOT NULL,
    operation   TEXT NOT NULL,
    token       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project_id, operation, token)
);

-- Every committed change, in commit order; every node's data plane follows
-- it. Writers hold a transaction-level advisory lock (see postgres.rs), so
-- revisions are assigned and committed in the same order.
CREATE TABLE change_log (
    revision   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id TEXT COLLATE "C" NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT COLLATE "C" NOT NULL,
    op         TEXT NOT NULL,
    lb_id      TEXT COLLATE "C",
    pool_id    TEXT COLLATE "C"
);
