//! A member's address as its caller wrote it (migration 0028): kept
//! beside the canonical address, read back as written, and never part of
//! identity (the unique index is on the canonical address).

use std::sync::Arc;

use weir_core::model::*;
use weir_store::{Store, StoreError};

use super::{backend, seed, t};

const LONG: &str = "2001:db8:0:0:0:0:0:1";

/// Spellings round-trip through insert, update and every read path.
pub(crate) async fn member_spellings_round_trip(store: Arc<dyn Store>) {
    seed(&*store).await;
    let member = Backend {
        address_text: Some(LONG.into()),
        monitor_address: Some("2001:db8::2".parse().unwrap()),
        monitor_address_text: Some("2001:DB8:0::2".into()),
        ..backend("b6", "2001:db8::1", BackendPorts::One(80))
    };
    let plain = backend("b4", "10.0.1.4", BackendPorts::One(80));
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&[member.clone(), plain.clone()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The other spelling of the same address and port is the same row (in
    // a transaction of its own: PostgreSQL aborts one that hits an error).
    // Refused by the time it commits (the row may be held to go out with
    // the transaction's next statement).
    let mut tx = store.begin().await.unwrap();
    let clash = match tx
        .insert_backends(&[Backend {
            address_text: None,
            ..backend("b7", "2001:db8::1", BackendPorts::One(80))
        }])
        .await
    {
        Ok(()) => tx.commit().await,
        Err(e) => Err(e),
    };
    assert!(matches!(clash, Err(StoreError::Unique(_))), "{clash:?}");

    let mut r = store.read().await.unwrap();
    assert_eq!(r.backend(&member.id).await.unwrap(), Some(member.clone()));
    assert_eq!(r.backend(&plain.id).await.unwrap(), Some(plain.clone()));
    let found = r
        .overlapping_backends(&member.pool_id, &[member.address], &[])
        .await
        .unwrap();
    assert_eq!(found, vec![member.clone()]);
    drop(r);

    // A new health-check spelling replaces the old; none clears it.
    for text in [Some("2001:0db8::2"), None] {
        let next = Backend {
            monitor_address_text: text.map(str::to_owned),
            updated_at: t(20),
            ..member.clone()
        };
        let mut tx = store.begin().await.unwrap();
        tx.update_backend(&next).await.unwrap();
        tx.commit().await.unwrap();
        let mut r = store.read().await.unwrap();
        let read = r.backend(&member.id).await.unwrap().unwrap();
        assert_eq!(read, next);
        assert_eq!(read.address_as_written(), LONG);
    }
}

/// A spelling edited behind Weir's back into text that is not a literal
/// of the row's address is refused on read, never shown.
#[tokio::test]
async fn a_spelling_of_another_address_is_a_corrupt_row() {
    let (store, dir) = super::sqlite().await;
    seed(&*store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&[Backend {
        address_text: Some(LONG.into()),
        ..backend("b6", "2001:db8::1", BackendPorts::One(80))
    }])
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    for (column, text) in [
        ("address_text", "2001:db8::9"),
        ("address_text", "<b>2001:db8::1</b>"),
        ("monitor_address_text", "2001:db8::1"),
    ] {
        sqlx::query(&format!(
            "UPDATE backends SET address_text = NULL, monitor_address_text = NULL, {column} = ?1"
        ))
        .bind(text)
        .execute(&raw)
        .await
        .unwrap();
        let read = store.read().await.unwrap().backend(&"b6".into()).await;
        assert!(
            matches!(&read, Err(StoreError::Corrupt(m)) if m.contains(column)),
            "{column} = {text:?}: {read:?}"
        );
    }
}
