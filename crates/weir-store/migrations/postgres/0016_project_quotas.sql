-- Per-project quotas (Octavia's quotas API): one row per project the
-- operator set a quota for; NULL is "the deployment's default", -1
-- unlimited. A project's row goes with the project.
-- (0014 and 0015 are other changes'.)
CREATE TABLE project_quotas (
    project_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    load_balancer  BIGINT,
    listener       BIGINT,
    pool           BIGINT,
    health_monitor BIGINT,
    member         BIGINT,
    l7policy       BIGINT,
    l7rule         BIGINT
);
