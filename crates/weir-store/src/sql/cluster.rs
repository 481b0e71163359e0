//! Node membership and VIP leases: autocommit statements outside the
//! change log (a heartbeat is not a change of the registry, and must not
//! wait behind the writer lock). Every time is the database's own
//! (`now`, an expression each database spells its way), so the nodes'
//! clocks never have to agree. A lease changes hands only by
//! compare-and-set on its epoch.

use std::net::IpAddr;

use weir_core::cluster::{Lease, NodeRecord};

use super::*;

pub(crate) async fn heartbeat<D: Driver>(
    conn: &mut D,
    now: &str,
    node: &NodeRecord,
) -> StoreResult<()> {
    let revision = i64::try_from(node.applied_revision).unwrap_or(i64::MAX);
    let sql = format!(
        "INSERT INTO nodes (id, name, api_address, data_addresses, holds_vips, \
         applied_revision, started_ms, heartbeat_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, {now}, {now}) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
         api_address = excluded.api_address, data_addresses = excluded.data_addresses, \
         holds_vips = excluded.holds_vips, applied_revision = excluded.applied_revision, \
         heartbeat_ms = excluded.heartbeat_ms"
    );
    conn.execute(
        &sql,
        args![
            node.id.as_str(),
            node.name.as_str(),
            node.api_address.as_str(),
            node.data_addresses.join(","),
            node.holds_vips,
            revision,
        ],
    )
    .await?;
    Ok(())
}

/// Marks a node's start: its row's `started_ms` is now.
pub(crate) async fn started<D: Driver>(conn: &mut D, now: &str, id: &str) -> StoreResult<()> {
    conn.execute(
        &format!("UPDATE nodes SET started_ms = {now} WHERE id = $1"),
        args![id],
    )
    .await?;
    Ok(())
}

pub(crate) async fn now_ms<D: Driver>(conn: &mut D, now: &str) -> StoreResult<i64> {
    let row = conn
        .fetch_optional(&format!("SELECT {now} AS now"), Vec::new())
        .await?
        .ok_or_else(|| StoreError::Database("no time from the database".to_owned()))?;
    row.int("now")
}

pub(crate) async fn nodes<D: Driver>(conn: &mut D) -> StoreResult<Vec<NodeRecord>> {
    let rows = conn
        .fetch_all("SELECT * FROM nodes ORDER BY name, id", Vec::new())
        .await?;
    rows.iter()
        .map(|row| {
            let addresses = row.text("data_addresses")?;
            Ok(NodeRecord {
                id: row.text("id")?,
                name: row.text("name")?,
                api_address: row.text("api_address")?,
                data_addresses: addresses
                    .split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect(),
                holds_vips: row.flag("holds_vips")?,
                applied_revision: u64::try_from(row.int("applied_revision")?).unwrap_or(0),
                started_ms: row.int("started_ms")?,
                heartbeat_ms: row.int("heartbeat_ms")?,
            })
        })
        .collect()
}

pub(crate) async fn leases<D: Driver>(conn: &mut D) -> StoreResult<Vec<Lease>> {
    let rows = conn
        .fetch_all("SELECT * FROM vip_leases ORDER BY vip", Vec::new())
        .await?;
    rows.iter()
        .map(|row| {
            let vip = row.text("vip")?;
            Ok(Lease {
                vip: vip
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("vip_leases.vip: {vip:?}")))?,
                owner: row.text("owner")?,
                epoch: u64::try_from(row.int("epoch")?).unwrap_or(0),
                expires_ms: row.int("expires_ms")?,
            })
        })
        .collect()
}

fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Takes `vip` for `node` if its lease is still at `seen_epoch` and
/// expired (0: no lease row yet); the new epoch, or `None` when another
/// node changed it first.
pub(crate) async fn acquire<D: Driver>(
    conn: &mut D,
    now: &str,
    vip: IpAddr,
    node: &str,
    seen_epoch: u64,
    ttl_ms: u64,
) -> StoreResult<Option<u64>> {
    let vip = vip.to_string();
    let done = if seen_epoch == 0 {
        conn.execute(
            &format!(
                "INSERT INTO vip_leases (vip, owner, epoch, expires_ms) \
                 VALUES ($1, $2, 1, {now} + $3) ON CONFLICT (vip) DO NOTHING"
            ),
            args![vip, node, ms(ttl_ms)],
        )
        .await?
    } else {
        conn.execute(
            &format!(
                "UPDATE vip_leases SET owner = $1, epoch = epoch + 1, expires_ms = {now} + $2 \
                 WHERE vip = $3 AND epoch = $4 AND expires_ms <= {now}"
            ),
            args![node, ms(ttl_ms), vip, ms(seen_epoch)],
        )
        .await?
    };
    Ok((done == 1).then_some(seen_epoch + 1))
}

/// Extends a live lease `node` holds at `epoch`; false when it expired or
/// changed hands (the owner must then let go at once).
pub(crate) async fn renew<D: Driver>(
    conn: &mut D,
    now: &str,
    vip: IpAddr,
    node: &str,
    epoch: u64,
    ttl_ms: u64,
) -> StoreResult<bool> {
    let done = conn
        .execute(
            &format!(
                "UPDATE vip_leases SET expires_ms = {now} + $1 \
                 WHERE vip = $2 AND owner = $3 AND epoch = $4 AND expires_ms > {now}"
            ),
            args![ms(ttl_ms), vip.to_string(), node, ms(epoch)],
        )
        .await?;
    Ok(done == 1)
}

/// Expires a lease `node` holds at `epoch`, keeping the row and its epoch.
pub(crate) async fn release<D: Driver>(
    conn: &mut D,
    vip: IpAddr,
    node: &str,
    epoch: u64,
) -> StoreResult<bool> {
    let done = conn
        .execute(
            "UPDATE vip_leases SET expires_ms = 0 WHERE vip = $1 AND owner = $2 AND epoch = $3",
            args![vip.to_string(), node, ms(epoch)],
        )
        .await?;
    Ok(done == 1)
}
