//! The clap trees of `weir flavor`, `weir flavorprofile` and `weir
//! domain` (the operator's flavor catalogue and an HTTPS listener's
//! domain extensions), kept apart so `cli.rs` stays readable.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum FlavorCmd {
    /// Create a flavor of a profile.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        profile: String,
        #[arg(long)]
        description: Option<String>,
        /// Create it disabled: no load balancer may use it yet.
        #[arg(long)]
        disabled: bool,
    },
    /// List flavors.
    List,
    /// Show a flavor.
    Show { id: String },
    /// Rename, describe, enable or disable a flavor.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
    /// Delete a flavor no load balancer uses.
    Delete { id: String },
}

#[derive(Subcommand)]
pub enum FlavorProfileCmd {
    /// Create a flavor profile of the `weir` provider.
    Create {
        #[arg(long)]
        name: String,
        /// Capabilities as a JSON object, e.g.
        /// '{"loadbalancer_topology":"SINGLE"}'.
        #[arg(long)]
        data: Option<String>,
    },
    /// List flavor profiles.
    List,
    /// Show a flavor profile.
    Show { id: String },
    /// Rename a profile or replace its data (fixed while a flavor uses
    /// it).
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        data: Option<String>,
    },
    /// Delete a flavor profile no flavor uses.
    Delete { id: String },
}

#[derive(Subcommand)]
pub enum DomainCmd {
    /// Serve a domain of an HTTPS listener with a chosen certificate
    /// (before any certificate's own names).
    Add {
        #[arg(long)]
        listener: String,
        #[arg(long)]
        domain: String,
        #[arg(long)]
        cert: String,
    },
    /// Serve a domain extension with another certificate.
    Set {
        id: String,
        #[arg(long)]
        listener: String,
        #[arg(long)]
        cert: String,
    },
    /// Remove a domain extension.
    Remove {
        id: String,
        #[arg(long)]
        listener: String,
    },
}
