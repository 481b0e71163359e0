-- Networks a project makes itself (Neutron's network and subnet create).
-- Such a network names no CIDR: `vpcs.cidr` holds the empty text for it
-- (SQLite cannot drop the column's NOT NULL without rebuilding a table
-- that other tables reference), and its subnets, of either IP version, are its
-- address space. A subnet in such a network is only what the project
-- claims: `granted` is false, and its addresses are not the project's
-- for the "a bare member address lies in my network" rule. Every existing
-- subnet lies inside an operator's VPC CIDR.
ALTER TABLE subnets ADD COLUMN granted BOOLEAN NOT NULL DEFAULT TRUE;
