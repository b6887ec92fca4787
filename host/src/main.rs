use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    racelab::cli::run(racelab::cli::Cli::parse())
}
