//! The real binary: `weir serve` with no configuration, the CLI against
//! it, and durability across `kill -9`.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

#[test]
fn serve_with_no_config_keeps_an_admin_token_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), None);
    let token_file = dir.path().join("weir-data/admin-token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let mode = std::fs::metadata(&token_file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    assert!(dir.path().join("weir-data/weir.db").exists());
    let (status, _) = request(
        "GET",
        &format!("{}/v1/projects", server.url),
        token.trim(),
        None,
    );
    assert_eq!(status, 200);
    drop(server);
    // A restart reuses the saved token.
    let server = serve(dir.path(), None);
    let (status, _) = request(
        "GET",
        &format!("{}/v1/projects", server.url),
        token.trim(),
        None,
    );
    assert_eq!(status, 200);
}

#[test]
fn the_cli_registers_lists_updates_and_deregisters() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), Some("cli-admin"));
    let url = &server.url;
    let (token, listener) = cli_setup(url, "cli-admin");

    let (ok, table, err) = weir(
        url,
        &token,
        &[
            "backend",
            "register",
            "--listener",
            &listener,
            "--address",
            "10.0.1.10",
            "--address",
            "10.0.1.11:8080",
            "--weight",
            "7",
        ],
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("ADDRESS") && lines[0].contains("WEIGHT"),
        "{table}"
    );
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[2].contains("10.0.1.11") && lines[2].contains("8080") && lines[2].contains(" 7 "),
        "{table}"
    );

    let listed = weir_json(url, &token, &["backend", "list", "--listener", &listener]);
    let backends = listed["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 2);
    let id = backends[0]["id"].as_str().unwrap();

    let updated = weir_json(
        url,
        &token,
        &["backend", "update", id, "--weight", "0", "--disable"],
    );
    assert_eq!(
        (updated["weight"].clone(), updated["enabled"].clone()),
        (json!(0), json!(false))
    );

    let (ok, _, err) = weir(
        url,
        &token,
        &[
            "backend",
            "register",
            "--listener",
            &listener,
            "--address",
            "10.0.1.10",
        ],
    );
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(err.starts_with("error: BackendExists (409):"), "{err}");

    let (ok, out, _) = weir(url, &token, &["backend", "deregister", id]);
    assert!(ok);
    assert!(out.contains("deregistered"));
    let listed = weir_json(url, &token, &["backend", "list", "--listener", &listener]);
    assert_eq!(listed["backends"].as_array().unwrap().len(), 1);

    let (ok, _, err) = weir(url, "wrong-token", &["lb", "list"]);
    assert!(!ok);
    assert!(err.contains("Unauthenticated"), "{err}");
}

#[test]
fn the_cli_gives_a_project_a_reader_credential_and_revokes_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), Some("cli-admin"));
    let url = &server.url;
    let (token, listener) = cli_setup(url, "cli-admin");
    let project = weir_json(url, "cli-admin", &["project", "list"])["projects"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let made = weir_json(
        url,
        "cli-admin",
        &[
            "project",
            "credential",
            "create",
            "--project",
            &project,
            "--role",
            "reader",
            "--name",
            "dashboard",
        ],
    );
    assert_eq!(made["role"], "reader");
    let reader = made["token"].as_str().unwrap();
    let key = made["access_key_id"].as_str().unwrap();

    // The reader lists; its write is refused in one clear line.
    let listed = weir_json(url, reader, &["backend", "list", "--listener", &listener]);
    assert_eq!(listed["backends"], json!([]));
    let (ok, _, err) = weir(
        url,
        reader,
        &[
            "backend",
            "register",
            "--listener",
            &listener,
            "--address",
            "10.0.1.10",
        ],
    );
    assert!(!ok);
    assert!(
        err.starts_with("error: Forbidden (403):") && err.contains("reader"),
        "{err}"
    );

    // Listed as a table without secrets; only the operator may.
    let (ok, table, err) = weir(
        url,
        "cli-admin",
        &["project", "credential", "list", "--project", &project],
    );
    assert!(ok, "{err}");
    assert!(table.contains(key) && table.contains("reader") && table.contains("dashboard"));
    assert!(!table.contains(reader), "{table}");
    let (ok, _, err) = weir(
        url,
        &token,
        &["project", "credential", "list", "--project", &project],
    );
    assert!(!ok && err.contains("Forbidden"), "{err}");

    let (ok, out, err) = weir(
        url,
        "cli-admin",
        &[
            "project",
            "credential",
            "revoke",
            "--project",
            &project,
            key,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("revoked"), "{out}");
    let (ok, _, err) = weir(url, reader, &["lb", "list"]);
    assert!(!ok && err.contains("Unauthenticated"), "{err}");
    let (ok, _, err) = weir(url, &token, &["lb", "list"]);
    assert!(ok, "{err}");
}

#[test]
fn the_cli_uploads_a_certificate_whose_key_is_sealed_outside_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), Some("cli-admin"));
    let url = &server.url;
    let (token, _) = cli_setup(url, "cli-admin");

    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["shop.example.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let files = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (files.path().join("c.pem"), files.path().join("k.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let (cert_path, key_path) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());

    let made = weir_json(
        url,
        &token,
        &[
            "cert", "create", "--cert", cert_path, "--key", key_path, "--name", "shop",
        ],
    );
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["names"], json!(["shop.example.test"]));
    assert!(made.get("private_key").is_none(), "{made}");
    let (ok, table, err) = weir(url, &token, &["cert", "list"]);
    assert!(ok, "{err}");
    assert!(
        table.contains(&id) && table.contains("ECDSA-P256"),
        "{table}"
    );
    let shown = weir_json(url, &token, &["cert", "show", &id]);
    assert_eq!(shown["fingerprint_sha256"], made["fingerprint_sha256"]);

    // The key sits sealed in the database; its key is a file beside it.
    let body_line = key.serialize_pem().lines().nth(1).unwrap().to_owned();
    let db = std::fs::read(dir.path().join("weir-data/weir.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("weir-data/weir.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(&body_line) && !text.contains("BEGIN PRIVATE KEY"));
    }
    let key_file = dir.path().join("weir-data/secrets-key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim().len(), 64);

    // A key that is not the certificate's: refused by field, in one line.
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(key_file_other(&files), other.serialize_pem()).unwrap();
    let (ok, _, err) = weir(
        url,
        &token,
        &[
            "cert",
            "create",
            "--cert",
            cert_path,
            "--key",
            key_file_other(&files).to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("private_key") && err.contains("does not belong"),
        "{err}"
    );

    let (ok, out, err) = weir(url, &token, &["cert", "delete", &id]);
    assert!(ok && out.contains("deleted"), "{err}");
    let (ok, _, err) = weir(url, &token, &["cert", "show", &id]);
    assert!(!ok && err.contains("NotFound"), "{err}");
}

fn key_file_other(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("other.pem")
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "durable-admin";
    let server = serve(dir.path(), Some(admin));
    let url = server.url.clone();
    let (token, listener) = cli_setup(&url, admin);
    let path = format!("{url}/v1/listeners/{listener}/backends");

    // Writers keep registering batches of ten until the process dies; every
    // acknowledged batch must be there after restart, and no batch may be
    // there in part.
    let acked: Vec<Vec<String>> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..4u32)
            .map(|w| {
                let (path, token) = (&path, &token);
                scope.spawn(move || {
                    let mut acked = Vec::new();
                    let deadline = Instant::now() + Duration::from_secs(20);
                    for batch in 0..25u32 {
                        if Instant::now() > deadline {
                            break;
                        }
                        // Inside the load balancer's VPC (10.0.0.0/16): a
                        // bare address must be the caller's own.
                        let addresses: Vec<String> = (0..10)
                            .map(|i| format!("10.0.{}.{}", w * 25 + batch, 1 + i))
                            .collect();
                        let body = json!({"backends": addresses.iter().map(|a| json!({"address": a})).collect::<Vec<_>>()});
                        let req = ureq::post(path).set("Authorization", &format!("Bearer {token}"));
                        match req.send_json(body) {
                            Ok(r) if r.status() == 201 => acked.push(addresses),
                            _ => break,
                        }
                    }
                    acked
                })
            })
            .collect();
        // Let some batches land, then kill without warning.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let (_, page) = request("GET", &format!("{path}?limit=1000"), &token, None);
            if page["backends"].as_array().map_or(0, Vec::len) >= 200 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(kill_9(server.child.id()), 0);
        writers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    drop(server);
    assert!(!acked.is_empty());

    let server = serve(dir.path(), Some(admin));
    let path = format!("{}/v1/listeners/{listener}/backends?limit=1000", server.url);
    let (status, page) = request("GET", &path, &token, None);
    assert_eq!(status, 200);
    let stored: std::collections::HashSet<String> = page["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["address"].as_str().unwrap().to_owned())
        .collect();
    for batch in &acked {
        for a in batch {
            assert!(stored.contains(a), "acknowledged {a} lost");
        }
    }
    // Whole batches only: every stored address's batch is complete.
    for a in &stored {
        let prefix = a.rsplit_once('.').unwrap().0;
        let siblings = stored
            .iter()
            .filter(|s| s.rsplit_once('.').unwrap().0 == prefix)
            .count();
        assert_eq!(siblings, 10, "batch {prefix} is partial");
    }
}

/// `kill -9` through the `kill` command, to stay free of unsafe code.
fn kill_9(pid: u32) -> i32 {
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .map(|s| s.code().unwrap_or(1))
        .unwrap_or(1)
}

/// `weir serve` with `store_url` as its store: exit status and stderr.
fn serve_fails_with_store(store_url: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--store-url", store_url])
        .current_dir(dir.path())
        .env_remove("WEIR_CONFIG")
        .env("WEIR_EGRESS_ALLOW", "127.0.0.0/8")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_store_weir_cannot_use_stops_the_start_with_the_reason() {
    let (code, stderr) = serve_fails_with_store("mysql://weir@127.0.0.1/weir");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("only postgres:// URLs"), "{stderr}");
    // Nothing listens on port 1 of loopback: the connect is refused at once.
    let (code, stderr) = serve_fails_with_store("postgres://weir:weir@127.0.0.1:1/weir");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot open the PostgreSQL store"),
        "{stderr}"
    );
}
