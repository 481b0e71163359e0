-- A stopped listener (Aliyun StopLoadBalancerListener, Octavia
-- admin_state_up false) stays configured but is not served.
ALTER TABLE listeners ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT 1;
