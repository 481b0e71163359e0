-- Listener policy (issue 16): a listener may name its ACL without
-- applying it (Huawei's whitelist with enable_whitelist false keeps its
-- entries), and a UDP health check may send a payload and expect an
-- answer (Aliyun HealthCheckReq/HealthCheckExp, UCloud
-- RequestMsg/ResponseMsg). (0019 is another change's.)
ALTER TABLE listeners ADD COLUMN acl_enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE pools ADD COLUMN hc_send TEXT;
ALTER TABLE pools ADD COLUMN hc_expect TEXT;
