//! The `weir` binary: `weir serve` runs the service; every other subcommand
//! is a client of the native API.
//!
//! - [`config`]: settings from the optional TOML file and flags.
//! - [`serve`]: the composition root of the server.
//! - [`client`]: the CLI commands and their output.

mod cli;
mod client;
mod config;
mod serve;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Serve(args) => serve::main(args),
        command => client::main(&cli.client, command, cli.json),
    }
}
