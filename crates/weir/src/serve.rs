//! `weir serve`: opens the store, starts the control plane and serves the
//! API until SIGINT or SIGTERM.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use weir_control::Control;
use weir_store::sqlite::SqliteStore;

use crate::cli::ServeArgs;
use crate::config::{self, ServeConfig};

pub fn main(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match config::load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: ServeConfig) -> Result<(), String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    let admin_token = admin_token(&config.data_dir)?;
    let db = config.data_dir.join("weir.db");
    let store = SqliteStore::open(&db, config.durability)
        .await
        .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
    let control = Control::start(Arc::new(store), config.settings, admin_token)
        .await
        .map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Printed on stdout so scripts and tests can find a port-0 address.
    println!("weir listening on http://{addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "serving");
    axum::serve(listener, weir_api::router(control))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| e.to_string())
}

/// `WEIR_ADMIN_TOKEN` when set; otherwise the token saved in the data
/// directory, generated (and printed once) on first start.
fn admin_token(data_dir: &Path) -> Result<String, String> {
    if let Ok(token) = std::env::var("WEIR_ADMIN_TOKEN") {
        if !token.is_empty() {
            return Ok(token);
        }
    }
    let path = data_dir.join("admin-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        return Ok(token.trim().to_owned());
    }
    let token = weir_control::random_token("wa_");
    write_private(&path, &token).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("admin token (saved to {}): {token}", path.display());
    Ok(token)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
