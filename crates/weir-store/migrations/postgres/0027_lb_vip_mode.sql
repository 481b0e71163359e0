-- A load balancer's own VIP mode (issue 17): NULL inherits the
-- deployment's cluster.vip_mode.
ALTER TABLE load_balancers ADD COLUMN vip_mode TEXT
    CHECK (vip_mode IN ('none', 'failover', 'anycast'));
