-- A member's address and health-check address as the caller wrote them,
-- when that is not the canonical text (Octavia shows `2001:db8:0:0:0:0:0:1`
-- back as given; `address` holds `2001:db8::1`). NULL: the canonical text.
-- Identity, the unique index and every rule use `address` and
-- `monitor_address`; a spelling is read back only if it parses to them.
ALTER TABLE backends ADD COLUMN address_text TEXT;
ALTER TABLE backends ADD COLUMN monitor_address_text TEXT;
