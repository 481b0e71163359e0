//! Settings: built-in defaults, then the optional TOML file, then flags and
//! environment variables. Unknown keys in the file are errors, so a typo
//! never silently falls back to a default.

use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use weir_core::settings::{Limits, NetworkSettings, Settings};
use weir_store::sqlite::Durability;

use crate::cli::ServeArgs;

/// Where the API listens by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8480";
/// Where data lives by default, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "weir-data";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    network: NetworkSection,
    #[serde(default)]
    limits: LimitsSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    /// "full" (default) or "normal".
    durability: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NetworkSection {
    backend_ranges: Option<Vec<String>>,
    vip_ranges: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    backends_per_pool: Option<usize>,
    backends_per_request: Option<usize>,
}

/// Everything `weir serve` runs with.
pub struct ServeConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub settings: Settings,
}

fn cidrs(key: &str, list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|c| c.parse().map_err(|_| format!("{key}: {c:?} is not a CIDR")))
        .collect()
}

/// Reads the file named by `--config` (if any) and applies the flags.
pub fn load(args: &ServeArgs) -> Result<ServeConfig, String> {
    let file = match &args.config {
        Some(path) => read(path)?,
        None => FileConfig::default(),
    };
    let mut network = NetworkSettings::default();
    if let Some(list) = &file.network.backend_ranges {
        network.backend_ranges = cidrs("network.backend_ranges", list)?;
    }
    if let Some(list) = &file.network.vip_ranges {
        network.vip_ranges = cidrs("network.vip_ranges", list)?;
    }
    let defaults = Limits::default();
    let limits = Limits {
        backends_per_pool: file
            .limits
            .backends_per_pool
            .unwrap_or(defaults.backends_per_pool),
        backends_per_request: file
            .limits
            .backends_per_request
            .unwrap_or(defaults.backends_per_request),
    };
    let durability = match file.store.durability.as_deref() {
        None | Some("full") => Durability::Full,
        Some("normal") => Durability::Normal,
        Some(other) => {
            return Err(format!(
                "store.durability: {other:?} is not \"full\" or \"normal\""
            ))
        }
    };
    Ok(ServeConfig {
        listen: args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        data_dir: args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        durability,
        settings: Settings { network, limits },
    })
}

fn read(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
