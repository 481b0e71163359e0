//! The CLI's output through the real binary against a real server:
//! `-o wide` adds columns to list tables, `--json` and `-o json` print
//! the API's JSON for every kind of command, nested values (a listener's
//! `operating_status`, a backend's `status`) never print as raw JSON in
//! tables or `show`, and `weir completions` prints a script per shell.

use serde_json::Value;

use crate::support::*;

/// The header cells of a table's first line.
fn header(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// `weir args…` succeeds; its stdout.
fn ok(url: &str, token: &str, args: &[&str]) -> String {
    let (ok, out, err) = weir(url, token, args);
    assert!(ok, "weir {args:?}: {err}");
    out
}

#[test]
fn wide_tables_json_everywhere_and_no_raw_json_in_tables() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "cli-output-admin";
    let server = serve(dir.path(), Some(admin));
    let url = &server.url;
    let (token, listener) = cli_setup(url, admin);
    let lb = weir_json(url, &token, &["listener", "show", &listener])["load_balancer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        url,
        &token,
        &[
            "backend",
            "register",
            "--listener",
            &listener,
            "--address",
            "10.0.1.10:8080",
        ],
    );

    // -o wide: the plain table's columns, then more.
    for (args, extra) in [
        (vec!["lb", "list"], "OPERATING_STATUS"),
        (vec!["listener", "list", "--lb", &lb], "OPERATING_STATUS"),
        (
            vec!["backend", "list", "--listener", &listener],
            "ACTIVE_CONNECTIONS",
        ),
        (vec!["project", "list"], "ACCESS_KEY_ID"),
    ] {
        let plain = header(&ok(url, &token_for(&args, admin, &token), &args));
        let mut wide_args = args.clone();
        wide_args.extend(["-o", "wide"]);
        let wide = header(&ok(url, &token_for(&args, admin, &token), &wide_args));
        assert_eq!(wide[..plain.len()], plain[..], "{args:?}");
        assert!(wide.iter().any(|h| h == extra), "{args:?}: {wide:?}");
        if args[0] != "project" {
            assert!(wide.len() > plain.len(), "{args:?}: {wide:?}");
        }
    }

    // Nested values are text: never a brace or a quote from JSON.
    for args in [
        vec!["listener", "show", &listener],
        vec!["lb", "show", &lb],
        vec!["lb", "list", "-o", "wide"],
        vec!["listener", "list", "--lb", &lb, "-o", "wide"],
        vec!["backend", "list", "--listener", &listener, "-o", "wide"],
    ] {
        let out = ok(url, &token, &args);
        assert!(!out.contains('{') && !out.contains('"'), "{args:?}:\n{out}");
    }
    let shown = ok(url, &token, &["listener", "show", &listener]);
    let state = shown
        .lines()
        .find(|l| l.starts_with("operating_status.state "))
        .unwrap_or_else(|| panic!("no operating_status.state line:\n{shown}"));
    let live = weir_json(url, &token, &["listener", "show", &listener]);
    assert_eq!(
        state.split_whitespace().nth(1),
        live["operating_status"]["state"].as_str()
    );

    // --json and -o json: the API's JSON, for lists, shows and writes.
    for args in [
        vec!["lb", "list"],
        vec!["lb", "show", &lb],
        vec!["listener", "list", "--lb", &lb],
        vec!["listener", "show", &listener],
        vec!["backend", "list", "--listener", &listener],
        vec!["cert", "list"],
        vec!["acl", "list"],
        vec!["listener", "update", &listener, "--name", "renamed"],
    ] {
        for flag in [&["--json"][..], &["-o", "json"][..]] {
            let mut all = args.clone();
            all.extend(flag);
            let out = ok(url, &token, &all);
            let parsed: Value =
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("{all:?}: {e}:\n{out}"));
            assert!(parsed.is_object(), "{all:?}: {out}");
        }
    }
    for args in [
        vec!["project", "list"],
        vec!["vpc", "list"],
        vec!["node", "list"],
    ] {
        let mut all = args.clone();
        all.push("--json");
        let out = ok(url, admin, &all);
        assert!(
            serde_json::from_str::<Value>(&out).is_ok(),
            "{all:?}: {out}"
        );
    }
    // A delete answers nothing: --json prints nothing rather than `null`.
    let backend = weir_json(url, &token, &["backend", "list", "--listener", &listener])["backends"]
        [0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        ok(url, &token, &["backend", "deregister", &backend, "--json"]),
        ""
    );

    // A format that does not exist is refused before any request.
    let (ok_bad, _, err) = weir(url, &token, &["lb", "list", "-o", "yaml"]);
    assert!(!ok_bad && err.contains("yaml"), "{err}");
}

/// The admin token for the operator's lists, else the project's.
fn token_for<'a>(args: &[&str], admin: &'a str, project: &'a str) -> String {
    if args[0] == "project" { admin } else { project }.to_owned()
}

#[test]
fn completions_are_printed_for_each_shell_and_name_the_commands() {
    for (shell, marker) in [
        ("bash", "complete -F _weir"),
        ("zsh", "#compdef weir"),
        ("fish", "complete -c weir"),
        ("elvish", "edit:completion:arg-completer[weir]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (ok, out, err) = weir("http://127.0.0.1:9", "", &["completions", shell]);
        assert!(ok, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: no {marker:?}");
        for command in ["listener", "backend", "l7policy", "completions"] {
            assert!(out.contains(command), "{shell}: {command} missing");
        }
        // The output flag and its values are completed too.
        assert!(out.contains("wide"), "{shell}: -o values missing");
    }
    let (ok, _, err) = weir("http://127.0.0.1:9", "", &["completions", "tcsh"]);
    assert!(!ok && err.contains("tcsh"), "{err}");
}

#[test]
fn pool_instance_acl_and_l7_commands_and_clearing_flags_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "cli-parity-admin";
    let server = serve(dir.path(), Some(admin));
    let url = &server.url;
    let (token, listener) = cli_setup(url, admin);
    let shown = weir_json(url, &token, &["listener", "show", &listener]);
    let pool = shown["default_pool_id"].as_str().unwrap().to_owned();
    let lb = shown["load_balancer_id"].as_str().unwrap().to_owned();

    // pool update: a check replaces the whole check; clearing it sends
    // `null`, not nothing.
    let updated = weir_json(
        url,
        &token,
        &[
            "pool",
            "update",
            &pool,
            "--health-check",
            "tcp",
            "--interval-ms",
            "1500",
            "--rise",
            "3",
            "--slow-start-ms",
            "2000",
        ],
    );
    assert_eq!(updated["health_check"]["type"], "tcp");
    assert_eq!(updated["health_check"]["interval_ms"], 1500);
    assert_eq!(updated["health_check"]["rise"], 3);
    assert_eq!(updated["slow_start_ms"], 2000);
    let table = ok(url, &token, &["pool", "show", &pool]);
    assert!(table.contains("health_check.type"), "{table}");
    let cleared = weir_json(url, &token, &["pool", "update", &pool, "--no-health-check"]);
    assert!(cleared["health_check"].is_null(), "{cleared}");
    assert_eq!(
        weir_json(url, &token, &["pool", "show", &pool])["slow_start_ms"],
        2000
    );
    let (ok_empty, _, err) = weir(url, &token, &["pool", "update", &pool]);
    assert!(!ok_empty && err.contains("at least one change"), "{err}");
    // Another project's pool is not found, as in every dialect.
    let (other, _) = tenant(url, admin);
    let (ok_other, _, err) = weir(url, &other, &["pool", "show", &pool]);
    assert!(!ok_other && err.contains("404"), "{err}");

    // listener update --no-acl clears the list it named.
    let acl = weir_json(url, &token, &["acl", "create", "--name", "office"]);
    let acl_id = acl["id"].as_str().unwrap();
    let renamed = weir_json(url, &token, &["acl", "update", acl_id, "--name", "branch"]);
    assert_eq!(renamed["name"], "branch");
    let named = weir_json(
        url,
        &token,
        &[
            "listener",
            "update",
            &listener,
            "--acl",
            acl_id,
            "--acl-mode",
            "deny",
        ],
    );
    assert_eq!(named["acl_id"], acl_id);
    let unnamed = weir_json(url, &token, &["listener", "update", &listener, "--no-acl"]);
    assert!(unnamed["acl_id"].is_null(), "{unnamed}");

    // instance show.
    let project = weir_json(url, admin, &["project", "list"])["projects"][0]["id"].clone();
    let subnet = weir_json(url, admin, &["subnet", "list"])["subnets"][0]["id"].clone();
    let made = weir_json(
        url,
        admin,
        &[
            "instance",
            "create",
            "--project",
            project.as_str().unwrap(),
            "--subnet",
            subnet.as_str().unwrap(),
            "--ip",
            "10.0.1.50",
        ],
    );
    let instance = made["id"].as_str().unwrap();
    let shown = weir_json(url, admin, &["instance", "show", instance]);
    assert_eq!(shown["private_ip"], "10.0.1.50");

    // L7: update a policy, add a rule, remove it.
    let http = weir_json(
        url,
        &token,
        &[
            "listener",
            "create",
            "--lb",
            &lb,
            "--protocol",
            "http",
            "--port",
            "8080",
        ],
    );
    let http_id = http["id"].as_str().unwrap();
    let policy = weir_json(
        url,
        &token,
        &[
            "l7policy",
            "create",
            "--listener",
            http_id,
            "--action",
            "reject",
        ],
    );
    let policy_id = policy["id"].as_str().unwrap();
    let changed = weir_json(
        url,
        &token,
        &[
            "l7policy",
            "update",
            policy_id,
            "--action",
            "redirect-to-url",
            "--redirect-url",
            "https://example.com/",
            "--disable",
        ],
    );
    assert_eq!(changed["action"], "redirect-to-url");
    assert_eq!(changed["enabled"], false);
    let rule = weir_json(
        url,
        &token,
        &["l7policy", "rule-add", policy_id, "path:starts-with=/api"],
    );
    let rule_id = rule["id"].as_str().unwrap_or_else(|| panic!("{rule}"));
    let with_rule = weir_json(url, &token, &["l7policy", "show", policy_id]);
    assert_eq!(
        with_rule["rules"].as_array().map(Vec::len),
        Some(1),
        "{with_rule}"
    );
    // rule-update: the match is replaced in place (same id), a header
    // rule needs its key, a match the core refuses changes nothing, and
    // another project's rule is not found.
    let updated = weir_json(
        url,
        &token,
        &[
            "l7policy",
            "rule-update",
            policy_id,
            rule_id,
            "--rule",
            "!header:equal-to:X-Env=staging",
            "--disable",
        ],
    );
    assert_eq!(updated["id"], rule_id);
    assert_eq!(updated["type"], "header");
    assert_eq!(updated["key"], "X-Env");
    assert_eq!(updated["invert"], true);
    assert_eq!(updated["enabled"], false);
    for bad in ["header:equal-to=staging", "path:sounds-like=/api"] {
        let (ok_bad, _, err) = weir(
            url,
            &token,
            &["l7policy", "rule-update", policy_id, rule_id, "--rule", bad],
        );
        assert!(!ok_bad && err.contains("400"), "{bad}: {err}");
    }
    let kept = weir_json(url, &token, &["l7policy", "show", policy_id]);
    assert_eq!(kept["rules"][0]["key"], "X-Env", "{kept}");
    let (ok_empty, _, err) = weir(
        url,
        &token,
        &["l7policy", "rule-update", policy_id, rule_id],
    );
    assert!(!ok_empty && err.contains("at least one change"), "{err}");
    let (intruder, _) = tenant(url, admin);
    let (ok_other, _, err) = weir(
        url,
        &intruder,
        &["l7policy", "rule-update", policy_id, rule_id, "--enable"],
    );
    assert!(!ok_other && err.contains("404"), "{err}");
    let removed = ok(
        url,
        &token,
        &["l7policy", "rule-remove", policy_id, rule_id],
    );
    assert!(removed.contains(rule_id), "{removed}");
    let without = weir_json(url, &token, &["l7policy", "show", policy_id]);
    assert_eq!(
        without["rules"].as_array().map(Vec::len),
        Some(0),
        "{without}"
    );

    // stats: the listener's and its load balancer's totals; another
    // project's are not found.
    for args in [["listener", "stats", &listener], ["lb", "stats", &lb]] {
        let stats = weir_json(url, &token, &args);
        for key in [
            "active_connections",
            "total_connections",
            "bytes_in",
            "bytes_out",
            "request_errors",
        ] {
            assert!(stats[key].is_u64(), "{args:?}: {key} in {stats}");
        }
        let (ok_other, _, err) = weir(url, &other, &args);
        assert!(!ok_other && err.contains("404"), "{err}");
    }

    // lb update: the name changes, the rest stays; another project's is
    // not found.
    let before = weir_json(url, &token, &["lb", "show", &lb]);
    let renamed = weir_json(url, &token, &["lb", "update", &lb, "--name", "shop"]);
    assert_eq!(renamed["name"], "shop");
    assert_eq!(renamed["vip"], before["vip"]);
    let (ok_other, _, err) = weir(url, &other, &["lb", "update", &lb, "--name", "x"]);
    assert!(!ok_other && err.contains("404"), "{err}");
    assert_eq!(weir_json(url, &token, &["lb", "show", &lb])["name"], "shop");
    let (ok_none, _, err) = weir(url, &token, &["lb", "update", &lb]);
    assert!(!ok_none && err.contains("at least one change"), "{err}");

    // pool list: each listener's own pool; another project's load
    // balancer is not found.
    let pools = weir_json(url, &token, &["pool", "list", "--lb", &lb]);
    let ids: Vec<&str> = pools["pools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    let http_pool = http["default_pool_id"].as_str().unwrap();
    assert!(
        ids.contains(&pool.as_str()) && ids.contains(&http_pool),
        "{pools}"
    );
    let table = ok(url, &token, &["pool", "list", "--lb", &lb]);
    assert!(
        header(&table).contains(&"HEALTH_CHECK_TYPE".to_owned()),
        "{table}"
    );
    let (ok_other, _, err) = weir(url, &other, &["pool", "list", "--lb", &lb]);
    assert!(!ok_other && err.contains("404"), "{err}");

    // listener delete: another project's attempt is not found and
    // deletes nothing; the owner's takes the listener and its pool.
    let (ok_other, _, err) = weir(url, &other, &["listener", "delete", http_id]);
    assert!(!ok_other && err.contains("404"), "{err}");
    assert_eq!(
        weir_json(url, &token, &["listener", "show", http_id])["id"],
        http_id
    );
    let gone = ok(url, &token, &["listener", "delete", http_id]);
    assert!(gone.contains(http_id), "{gone}");
    let (ok_show, _, err) = weir(url, &token, &["listener", "show", http_id]);
    assert!(!ok_show && err.contains("404"), "{err}");
    let (ok_pool, _, err) = weir(url, &token, &["pool", "show", http_pool]);
    assert!(!ok_pool && err.contains("404"), "{err}");
    let left = weir_json(url, &token, &["listener", "list", "--lb", &lb]);
    assert_eq!(
        left["listeners"].as_array().map(Vec::len),
        Some(1),
        "{left}"
    );
}
