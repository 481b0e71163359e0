-- HTTPS listeners (issue 15): the certificates a listener serves, in its
-- order (the first is the default), as a JSON list of certificate ids.
-- Empty for every other protocol.
ALTER TABLE listeners ADD COLUMN certificate_ids TEXT NOT NULL DEFAULT '[]';
-- The delete refusal looks a certificate's project's listeners through.
CREATE INDEX listeners_project ON listeners (project_id);
