//! The `weir` binary: `weir serve` runs the service; every other subcommand
//! is a client of the native API.
//!
//! - [`config`]: settings from the optional TOML file and flags.
//! - [`serve`]: the composition root of the server.
//! - [`client`]: the CLI commands ([`commands`]: pools and the updates
//!   completing the native API's parity); [`output`]: tables, `-o wide`,
//!   JSON.
//! - [`takeover`]: restarts that drop nothing (`--takeover`, SIGUSR2).
//! - [`watch`]: `weir watch`, the event stream printed as it comes.

mod cli;
mod cli_catalog;
mod cli_client_auth;
mod cli_pools;
mod client;
mod cluster;
mod commands;
mod config;
mod flavors;
mod groups;
mod notify;
mod output;
mod serve;
mod takeover;
mod watch;

use clap::{CommandFactory, Parser};

/// mimalloc instead of glibc's malloc: the data plane allocates and frees
/// per request (buffers, HTTP/2 streams and their tasks), and glibc's
/// arena bookkeeping (consolidation, chunk unlinking) was a sixth of the
/// CPU of an HTTP/2 load in a profile (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // A `failover` node's guard: the node's own child, not a command.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == cluster::guard::ARG)
    {
        return cluster::guard::main();
    }
    let cli = cli::Cli::parse();
    let format = cli.format();
    match cli.command {
        cli::Command::Serve(args) => serve::main(args),
        cli::Command::Watch(args) => watch::main(&cli.client, &args, format == cli::Format::Json),
        cli::Command::Completions { shell } => {
            let mut command = cli::Cli::command();
            clap_complete::generate(shell, &mut command, "weir", &mut std::io::stdout());
            std::process::ExitCode::SUCCESS
        }
        command => client::main(&cli.client, command, format),
    }
}
