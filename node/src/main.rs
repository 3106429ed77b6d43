//! The `cosell` binary: parses the command line, sets up logging, and turns any error into one
//! sentence on stderr with exit code 1.

use clap::Parser;

fn main() {
    let cli = cosell::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(error) = cosell::cli::run(cli) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
