-- The port the load balancer's LB-wide pool is dialled on for this
-- listener (Aliyun `BackendServerPort`); NULL: the client's port.
ALTER TABLE listeners ADD COLUMN backend_port INTEGER;
