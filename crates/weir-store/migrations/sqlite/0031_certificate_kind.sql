-- CA certificates (mTLS, issue 15): a certificate is a served chain with
-- its sealed key ('server') or a CA bundle a listener verifies client
-- certificates with ('ca'; Huawei's "client" certificates), which has no
-- key: its sealed_key is the empty text.
ALTER TABLE certificates ADD COLUMN kind TEXT NOT NULL DEFAULT 'server';
