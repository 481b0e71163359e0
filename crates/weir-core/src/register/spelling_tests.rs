//! A member address keeps its caller's spelling for the dialects that show
//! it back, while identity (duplicates, conflicts) compares the parsed
//! address: `2001:db8::1` and `2001:db8:0:0:0:0:0:1` are one backend.

use super::tests::{by_address, existing, snapshot, with_settings};
use super::*;

/// Documentation addresses granted as members: data, never dialled.
fn v6_settings() -> Settings {
    let mut settings = Settings::default();
    for list in [
        &mut settings.network.backend_ranges,
        &mut settings.network.external_backend_ranges,
    ] {
        list.push("2001:db8::/32".parse().unwrap());
    }
    settings
}

const LONG: &str = "2001:db8:0:0:0:0:0:1";

#[test]
fn the_callers_spelling_is_kept_beside_the_parsed_address() {
    let settings = v6_settings();
    let mut spec = by_address(LONG);
    spec.monitor_address = Some("2001:DB8:0:0:0:0:0:2".into());
    let plan = with_settings(&snapshot(), &[spec], &settings).unwrap();
    let b = &plan.backends[0];
    assert_eq!(b.address, "2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!(b.address_text.as_deref(), Some(LONG));
    assert_eq!(b.address_as_written(), LONG);
    assert_eq!(
        b.monitor_address,
        Some("2001:db8::2".parse::<IpAddr>().unwrap())
    );
    assert_eq!(
        b.monitor_address_as_written().as_deref(),
        Some("2001:DB8:0:0:0:0:0:2")
    );

    // The canonical text, and the IPv4-mapped form folded to IPv4, keep no
    // spelling: what is shown is the address itself.
    let plan = with_settings(
        &snapshot(),
        &[by_address("2001:db8::1"), by_address("::ffff:10.0.0.12")],
        &settings,
    )
    .unwrap();
    assert_eq!(plan.backends[0].address_text, None);
    assert_eq!(plan.backends[1].address_text, None);
    assert_eq!(plan.backends[1].address_as_written(), "10.0.0.12");
}

#[test]
fn two_spellings_of_one_address_are_one_backend() {
    let settings = v6_settings();
    let err = with_settings(
        &snapshot(),
        &[by_address("2001:db8::1"), by_address(LONG)],
        &settings,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::DuplicateAddressInRequest { port: 80, .. }),
        "{err:?}"
    );

    let mut snap = snapshot();
    snap.overlapping = vec![existing("2001:db8::1", 80, None)];
    let err = with_settings(&snap, &[by_address(LONG)], &settings).unwrap_err();
    assert!(
        matches!(&err, Error::BackendExists { existing_id, .. } if existing_id == "be-old"),
        "{err:?}"
    );
}

#[test]
fn a_text_the_parser_refuses_is_refused_not_kept() {
    let settings = v6_settings();
    for bad in [
        "2001:db8::1%eth0",
        " 2001:db8::1",
        "2001:db8::1 ",
        "[2001:db8::1]",
        "2001:db8:0:0:0:0:0:0:1",
    ] {
        let err = with_settings(&snapshot(), &[by_address(bad)], &settings).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "backends[0].address"),
            "{bad:?}: {err:?}"
        );
        let mut spec = by_address("2001:db8::1");
        spec.monitor_address = Some(bad.into());
        let err = with_settings(&snapshot(), &[spec], &settings).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "backends[0].monitor_address"),
            "{bad:?}: {err:?}"
        );
    }
}
