//! `weir pool create`, `rename` and `delete` through the real binary:
//! a server group made natively takes backends and a listener, is
//! refused deletion while that listener forwards to it (as Aliyun's
//! DeleteVServerGroup) unless `--detach` (as Octavia's pool delete), and
//! another project's group is not found.

use crate::support::*;

#[test]
fn server_group_create_rename_and_delete_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "groups-admin";
    let server = serve(dir.path(), Some(admin));
    let url = &server.url;
    let (token, listener) = cli_setup(url, admin);
    let shown = weir_json(url, &token, &["listener", "show", &listener]);
    let lb = shown["load_balancer_id"].as_str().unwrap().to_owned();
    let own_pool = shown["default_pool_id"].as_str().unwrap().to_owned();

    // A group with its own algorithm and protocol, attached to the
    // listener.
    let group = weir_json(
        url,
        &token,
        &[
            "pool",
            "create",
            "--lb",
            &lb,
            "--name",
            "blue",
            "--scheduler",
            "lc",
            "--protocol",
            "proxyv2",
            "--listener",
            &listener,
        ],
    );
    let id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(group["name"], "blue");
    assert_eq!(group["scheduler"], "lc");
    assert_eq!(group["protocol"], "proxyv2");
    assert!(group["listener_id"].is_null(), "{group}");
    let shown = weir_json(url, &token, &["listener", "show", &listener]);
    assert_eq!(shown["group_pool_id"], id.as_str());
    let pools = weir_json(url, &token, &["pool", "list", "--lb", &lb]);
    assert!(
        pools["pools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == id.as_str()),
        "{pools}"
    );
    // Its backends are registered as in any pool.
    weir_json(
        url,
        &token,
        &[
            "backend",
            "register",
            "--pool",
            &id,
            "--address",
            "10.0.1.20:8080",
        ],
    );
    let backends = weir_json(url, &token, &["backend", "list", "--pool", &id]);
    assert_eq!(
        backends["backends"].as_array().unwrap().len(),
        1,
        "{backends}"
    );

    // A second group cannot take the same listener; a bad protocol or a
    // control character in the name is refused and nothing is made.
    let (ok, _, err) = weir(
        url,
        &token,
        &[
            "pool",
            "create",
            "--lb",
            &lb,
            "--name",
            "green",
            "--listener",
            &listener,
        ],
    );
    assert!(!ok && err.contains("409"), "{err}");
    for bad in [
        vec!["--name", "x", "--protocol", "gopher"],
        vec!["--name", "bell\u{7}"],
        vec!["--name", "x", "--scheduler", "random-ish"],
    ] {
        let mut args = vec!["pool", "create", "--lb", &lb];
        args.extend(bad.iter().copied());
        let (ok, _, err) = weir(url, &token, &args);
        assert!(!ok && err.contains("400"), "{args:?}: {err}");
    }
    let after = weir_json(url, &token, &["pool", "list", "--lb", &lb]);
    assert_eq!(after["pools"], pools["pools"]);

    let renamed = weir_json(url, &token, &["pool", "rename", &id, "--name", "azure"]);
    assert_eq!(renamed["name"], "azure");
    assert_eq!(
        weir_json(url, &token, &["pool", "show", &id])["name"],
        "azure"
    );
    let (ok, _, err) = weir(
        url,
        &token,
        &["pool", "rename", &id, "--name", &"x".repeat(300)],
    );
    assert!(!ok && err.contains("400"), "{err}");

    // `listener update` moves the listener between its own pool and the
    // group, and refuses a group it cannot name.
    let back = weir_json(
        url,
        &token,
        &["listener", "update", &listener, "--own-pool"],
    );
    assert!(back["group_pool_id"].is_null(), "{back}");
    let (ok, _, err) = weir(
        url,
        &token,
        &["listener", "update", &listener, "--group-pool", "pool-nope"],
    );
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, _, err) = weir(
        url,
        &token,
        &["listener", "update", &listener, "--group-pool", &own_pool],
    );
    assert!(!ok && err.contains("400"), "{err}");
    assert!(weir_json(url, &token, &["listener", "show", &listener])["group_pool_id"].is_null());
    let moved = weir_json(
        url,
        &token,
        &["listener", "update", &listener, "--group-pool", &id],
    );
    assert_eq!(moved["group_pool_id"], id.as_str());

    // Another project sees none of it.
    let (other, _) = tenant(url, admin);
    for args in [
        vec!["pool", "rename", &id, "--name", "mine"],
        vec!["pool", "delete", &id, "--detach"],
        vec!["pool", "create", "--lb", &lb, "--name", "intruder"],
        vec!["listener", "update", &listener, "--own-pool"],
    ] {
        let (ok, _, err) = weir(url, &other, &args);
        assert!(!ok && err.contains("404"), "{args:?}: {err}");
    }

    // In use: refused, then detached; a listener's own pool is no group.
    let (ok, _, err) = weir(url, &token, &["pool", "delete", &id]);
    assert!(!ok && err.contains("409"), "{err}");
    let (ok, _, err) = weir(url, &token, &["pool", "delete", &own_pool]);
    assert!(!ok && err.contains("400"), "{err}");
    let (ok, out, err) = weir(url, &token, &["pool", "delete", &id, "--detach"]);
    assert!(ok && out.contains(&id), "{err}");
    let (ok, _, err) = weir(url, &token, &["pool", "show", &id]);
    assert!(!ok && err.contains("404"), "{err}");
    // The listener forwards to its own pool again, so it takes a new group.
    let shown = weir_json(url, &token, &["listener", "show", &listener]);
    assert!(shown["group_pool_id"].is_null(), "{shown}");
    let again = weir_json(
        url,
        &token,
        &[
            "pool",
            "create",
            "--lb",
            &lb,
            "--name",
            "green",
            "--listener",
            &listener,
        ],
    );
    let (ok, _, err) = weir(
        url,
        &token,
        &["pool", "delete", again["id"].as_str().unwrap(), "--detach"],
    );
    assert!(ok, "{err}");
}

#[test]
fn replace_backends_makes_the_pool_the_set_given_in_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "replace-admin";
    let server = serve(dir.path(), Some(admin));
    let url = &server.url;
    let (token, listener) = cli_setup(url, admin);
    let pool = weir_json(url, &token, &["listener", "show", &listener])["default_pool_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for address in ["10.0.1.10:80", "10.0.1.11:80"] {
        weir_json(
            url,
            &token,
            &["backend", "register", "--pool", &pool, "--address", address],
        );
    }
    let addresses = |listed: &serde_json::Value| -> Vec<String> {
        let mut all: Vec<String> = listed["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| format!("{}:{}", b["address"].as_str().unwrap(), b["port"]))
            .collect();
        all.sort();
        all
    };

    // .11 stays, .12 arrives, .10 goes.
    let out = weir_json(
        url,
        &token,
        &[
            "pool",
            "replace-backends",
            &pool,
            "--address",
            "10.0.1.11:80",
            "--address",
            "10.0.1.12",
            "--port",
            "80",
        ],
    );
    assert_eq!(out["created"].as_array().unwrap().len(), 1, "{out}");
    // .11 is named as it is: nothing of it changes.
    assert_eq!(out["updated"], serde_json::json!([]), "{out}");
    assert_eq!(out["deleted"][0]["address"], "10.0.1.10", "{out}");
    let listed = weir_json(url, &token, &["backend", "list", "--pool", &pool]);
    assert_eq!(addresses(&listed), ["10.0.1.11:80", "10.0.1.12:80"]);

    // A bad member refuses the whole set: nothing changes.
    for (args, code) in [
        (
            vec!["--address", "10.0.1.13:80", "--address", "10.9.9.9:80"],
            "400",
        ),
        (
            vec!["--address", "10.0.1.13:80", "--address", "10.0.1.13:80"],
            "409",
        ),
    ] {
        let mut all = vec!["pool", "replace-backends", &pool];
        all.extend(args.iter().copied());
        let (ok, _, err) = weir(url, &token, &all);
        assert!(!ok && err.contains(code), "{all:?}: {err}");
    }
    let (ok, _, err) = weir(
        url,
        &token,
        &["pool", "replace-backends", &pool, "--address", "10.0.1.13"],
    );
    assert!(!ok && err.contains("port"), "{err}");
    let unchanged = weir_json(url, &token, &["backend", "list", "--pool", &pool]);
    assert_eq!(addresses(&unchanged), addresses(&listed));

    // Additive: nothing goes; another project's pool is not found.
    weir_json(
        url,
        &token,
        &[
            "pool",
            "replace-backends",
            &pool,
            "--address",
            "10.0.1.13:80",
            "--additive-only",
        ],
    );
    let more = weir_json(url, &token, &["backend", "list", "--pool", &pool]);
    assert_eq!(addresses(&more).len(), 3, "{more}");
    let (other, _) = tenant(url, admin);
    let (ok, _, err) = weir(url, &other, &["pool", "replace-backends", &pool]);
    assert!(!ok && err.contains("404"), "{err}");
    let still = weir_json(url, &token, &["backend", "list", "--pool", &pool]);
    assert_eq!(addresses(&still).len(), 3, "{still}");
    // No address at all empties the pool.
    weir_json(url, &token, &["pool", "replace-backends", &pool]);
    let empty = weir_json(url, &token, &["backend", "list", "--pool", &pool]);
    assert_eq!(addresses(&empty).len(), 0, "{empty}");
}
