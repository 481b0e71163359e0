-- Octavia flavor profiles and flavors (API 2.6): the operator's catalogue,
-- visible to every project and owned by none. A load balancer keeps the
-- flavor it was created with; the core refuses to delete a flavor in use
-- (and a profile a flavor uses), the references are the last line.
-- (0009 is another change's.)
CREATE TABLE flavor_profiles (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE flavors (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    profile_id  TEXT COLLATE "C" NOT NULL REFERENCES flavor_profiles(id),
    enabled     BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX flavors_profile ON flavors(profile_id);
ALTER TABLE load_balancers ADD COLUMN flavor_id TEXT COLLATE "C" REFERENCES flavors(id);
CREATE INDEX load_balancers_flavor ON load_balancers(flavor_id);
