//! `weir flavorprofile …` and `weir flavor …` through the real binary:
//! the operator writes the catalogue, a project reads flavors but no
//! profile and writes nothing, capabilities Weir cannot run are refused,
//! and a profile a flavor uses stays. Also the operator's listing of
//! every project's quotas (`weir project quota list`).

use crate::support::*;

#[test]
fn the_operator_keeps_the_flavor_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "flavors-admin";
    let server = serve(dir.path(), Some(admin));
    let url = &server.url;
    let (project, _) = tenant(url, admin);

    let profile = weir_json(
        url,
        admin,
        &[
            "flavorprofile",
            "create",
            "--name",
            "single",
            "--data",
            r#"{"loadbalancer_topology":"SINGLE"}"#,
        ],
    );
    let profile_id = profile["id"].as_str().unwrap().to_owned();
    assert_eq!(profile["provider"], "weir");
    assert_eq!(profile["data"]["loadbalancer_topology"], "SINGLE");
    // What Weir cannot run, and what is not JSON, are refused.
    for (data, code) in [
        (r#"{"loadbalancer_topology":"ACTIVE_STANDBY"}"#, "501"),
        (r#"{"compute_flavor":"m1"}"#, "501"),
    ] {
        let (ok, _, err) = weir(
            url,
            admin,
            &["flavorprofile", "create", "--name", "x", "--data", data],
        );
        assert!(!ok && err.contains(code), "{data}: {err}");
    }
    let (ok, _, err) = weir(
        url,
        admin,
        &["flavorprofile", "create", "--name", "x", "--data", "[1]"],
    );
    assert!(!ok && err.contains("JSON object"), "{err}");
    let listed = weir_json(url, admin, &["flavorprofile", "list"]);
    assert_eq!(
        listed["flavorprofiles"].as_array().unwrap().len(),
        1,
        "{listed}"
    );

    let flavor = weir_json(
        url,
        admin,
        &[
            "flavor",
            "create",
            "--name",
            "small",
            "--profile",
            &profile_id,
        ],
    );
    let flavor_id = flavor["id"].as_str().unwrap().to_owned();
    assert_eq!(flavor["enabled"], true);
    let changed = weir_json(
        url,
        admin,
        &[
            "flavor",
            "update",
            &flavor_id,
            "--name",
            "compact",
            "--disable",
        ],
    );
    assert_eq!(changed["name"], "compact");
    assert_eq!(changed["enabled"], false);
    let renamed = weir_json(
        url,
        admin,
        &["flavorprofile", "update", &profile_id, "--name", "one"],
    );
    assert_eq!(renamed["name"], "one");
    // Its data stays while a flavor uses it; so does the profile.
    let (ok, _, err) = weir(
        url,
        admin,
        &["flavorprofile", "update", &profile_id, "--data", "{}"],
    );
    assert!(!ok && err.contains("409"), "{err}");
    let (ok, _, err) = weir(url, admin, &["flavorprofile", "delete", &profile_id]);
    assert!(!ok && err.contains("409"), "{err}");

    // A project reads flavors, never profiles, and writes nothing.
    let seen = weir_json(url, &project, &["flavor", "list"]);
    assert_eq!(seen["flavors"][0]["id"], flavor_id.as_str(), "{seen}");
    assert_eq!(
        weir_json(url, &project, &["flavor", "show", &flavor_id])["name"],
        "compact"
    );
    for args in [
        vec!["flavorprofile", "list"],
        vec!["flavorprofile", "show", &profile_id],
        vec!["flavorprofile", "delete", &profile_id],
        vec![
            "flavor",
            "create",
            "--name",
            "mine",
            "--profile",
            &profile_id,
        ],
        vec!["flavor", "update", &flavor_id, "--enable"],
        vec!["flavor", "delete", &flavor_id],
    ] {
        let (ok, _, err) = weir(url, &project, &args);
        assert!(!ok && err.contains("403"), "{args:?}: {err}");
    }

    let (ok, out, err) = weir(url, admin, &["flavor", "delete", &flavor_id]);
    assert!(ok && out.contains(&flavor_id), "{err}");
    let (ok, _, err) = weir(url, admin, &["flavor", "show", &flavor_id]);
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, _, err) = weir(url, admin, &["flavorprofile", "delete", &profile_id]);
    assert!(ok, "{err}");
    let listed = weir_json(url, admin, &["flavorprofile", "list"]);
    assert_eq!(listed["flavorprofiles"], serde_json::json!([]));
}

#[test]
fn the_operator_lists_every_projects_quotas_a_project_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "quota-list-admin";
    let server = serve(dir.path(), Some(admin));
    let url = &server.url;
    let one_project = weir_json(url, admin, &["project", "create", "one"]);
    let two_project = weir_json(url, admin, &["project", "create", "two"]);
    let (one, two) = (
        one_project["token"].as_str().unwrap().to_owned(),
        two_project["token"].as_str().unwrap().to_owned(),
    );
    let one_id = one_project["id"].as_str().unwrap();
    let two_id = two_project["id"].as_str().unwrap();
    for id in [one_id, two_id] {
        weir_json(
            url,
            admin,
            &["project", "quota", "set", id, "--load-balancer", "7"],
        );
    }
    let all = weir_json(url, admin, &["project", "quota", "list"]);
    let ids: Vec<&str> = all["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["project_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&one_id) && ids.contains(&two_id), "{all}");
    assert_eq!(all["quotas"][0]["quotas"]["load_balancer"], 7, "{all}");
    let table = weir(url, admin, &["project", "quota", "list"]).1;
    assert!(
        table
            .lines()
            .next()
            .unwrap_or_default()
            .contains("QUOTAS_LOAD_BALANCER"),
        "{table}"
    );
    // A project sees its own only.
    for (token, own, other) in [(&one, one_id, two_id), (&two, two_id, one_id)] {
        let mine = weir_json(url, token, &["project", "quota", "list"]);
        let text = mine.to_string();
        assert_eq!(mine["quotas"].as_array().unwrap().len(), 1, "{mine}");
        assert_eq!(mine["quotas"][0]["project_id"], own);
        assert!(!text.contains(other), "{text}");
    }
}
