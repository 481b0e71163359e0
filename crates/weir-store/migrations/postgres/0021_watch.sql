-- The watch stream (issue 18): each project's change-log rows are also
-- numbered by a counter of their own, so a project's watchers see
-- positions 1, 2, 3... of their own changes and never how many other
-- projects wrote in between (the global revision would tell them).
-- The counter lives apart from the rows so that compaction never moves
-- it back. (0019 and 0020 are other changes'.)
ALTER TABLE change_log ADD COLUMN project_revision BIGINT NOT NULL DEFAULT 0;
UPDATE change_log SET project_revision = numbered.n
FROM (
    SELECT revision, ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY revision) AS n
    FROM change_log
) AS numbered
WHERE change_log.revision = numbered.revision;
CREATE TABLE project_log_heads (
    project_id TEXT COLLATE "C" PRIMARY KEY,
    revision   BIGINT NOT NULL
);
INSERT INTO project_log_heads (project_id, revision)
SELECT project_id, MAX(project_revision) FROM change_log GROUP BY project_id;
CREATE INDEX change_log_project ON change_log (project_id, project_revision);
