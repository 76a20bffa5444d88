//! The `attest` binary: parse the command line, run it, leave with its exit code
//! (0 done, 2 bad input or usage, 1 anything else).

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's allocator: under many small concurrent requests glibc's malloc
/// and free were about a fifth of the server's CPU (docs/benchmarks.md, 2026-11-29).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env("ATTEST_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,attest=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_logs())
        .init();
    let cli = attest::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(attest::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code as u8)
        }
    }
}

/// Colour codes only where a person reads them: a log file, a pipe or journald would keep
/// them as `\x1b[…` noise. `NO_COLOR` set to anything but empty (<https://no-color.org>) turns them off too.
fn colour_logs() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
