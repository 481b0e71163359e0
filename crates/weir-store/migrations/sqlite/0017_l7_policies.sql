-- L7 policies of HTTP listeners and their rules (Octavia /l7policies).
-- A policy's redirect target is its pool (redirect_pool_id, a server
-- group of the same load balancer: deleting one in use is refused by the
-- core, so no foreign key is needed to keep it) or its URL or prefix
-- (redirect_target, by action). Rules carry their policy's listener and
-- load balancer so that listener and load-balancer deletes take them in
-- one statement. (Versions 0015-0019 belong to other branches;
-- migrations apply by version, so a gap is harmless.)
CREATE TABLE l7_policies (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL REFERENCES projects(id),
    lb_id            TEXT NOT NULL REFERENCES load_balancers(id),
    listener_id      TEXT NOT NULL REFERENCES listeners(id),
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    policy_position  BIGINT NOT NULL,
    action           TEXT NOT NULL,
    redirect_pool_id TEXT,
    redirect_target  TEXT,
    redirect_code    BIGINT,
    enabled          BOOLEAN NOT NULL,
    tags             TEXT NOT NULL DEFAULT '[]',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX l7_policies_listener ON l7_policies(listener_id, policy_position);
CREATE INDEX l7_policies_lb ON l7_policies(lb_id, id);

CREATE TABLE l7_rules (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects(id),
    policy_id    TEXT NOT NULL REFERENCES l7_policies(id),
    listener_id  TEXT NOT NULL,
    lb_id        TEXT NOT NULL,
    rule_type    TEXT NOT NULL,
    compare_type TEXT NOT NULL,
    rule_key     TEXT,
    value        TEXT NOT NULL,
    invert       BOOLEAN NOT NULL,
    enabled      BOOLEAN NOT NULL,
    tags         TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX l7_rules_policy ON l7_rules(policy_id, id);
CREATE INDEX l7_rules_lb ON l7_rules(lb_id);
