-- Shared VPCs (OpenStack `shared` networks): every project may use them.
-- A subnet carries its VPC's flag, fixed at creation, so a project's
-- listings read one table. Existing VPCs stay private.
ALTER TABLE vpcs ADD COLUMN shared BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE subnets ADD COLUMN shared BOOLEAN NOT NULL DEFAULT FALSE;
