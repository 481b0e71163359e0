-- The server group a listener forwards to instead of its own pool and the
-- load balancer's LB-wide pool (Aliyun `VServerGroupId`); NULL: those two.
ALTER TABLE listeners ADD COLUMN group_pool_id TEXT REFERENCES pools(id);
