-- The subnet a backend was registered with (Octavia/Huawei `subnet_id`,
-- UCloud `SubnetId`), so it reads back as given.
ALTER TABLE backends ADD COLUMN subnet_id TEXT REFERENCES subnets(id);
