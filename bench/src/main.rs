//! `ward-bench`: ward's call path measured against its baselines, in one
//! process and one run so that ratios hold on a noisy machine. Prints JSON.
//!
//! A separate binary, not a `ward` subcommand: the baselines need what the
//! product must not ship, the reused-instance store (`ward`'s non-default
//! `bench-baseline` feature) and jsonwebtoken with its RustCrypto stack.
//! Run it from the repository root, e.g.
//! `cargo run --release -p ward-bench -- --plugin jwt`.

mod api_key;
mod audit_store;
mod example_token;
mod js;
mod jwt;
mod load;
mod measure;
mod routes;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

/// Arguments of `ward-bench`.
#[derive(Parser)]
#[command(name = "ward-bench", about = "Measure ward's call path against its baselines and print JSON (run from the repository root)")]
struct Args {
    /// What to measure: `example-token` (the call path and its baselines),
    /// `jwt` (the JWT plugin against native jsonwebtoken) or `api-key` (the
    /// api-key plugin at 10 to 1 000 000 keys against example-token) or `js`
    /// (the Haechi benchmark logic as a JavaScript plugin, and its load time)
    /// or `routes` (an `/auth` decision under 1 route and under 100) or
    /// `audit-store` (records/s the file and Redis audit stores sustain).
    #[arg(long, default_value = "example-token", value_parser = ["example-token", "jwt", "api-key", "js", "routes", "audit-store"])]
    plugin: String,
    /// Latency samples per case (`example-token`: each sample times a batch
    /// of 10 calls; `jwt`: per side and algorithm).
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Seconds per throughput run (`example-token`, `audit-store`: per side).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    #[command(flatten)]
    example_token: example_token::Args,
    #[command(flatten)]
    jwt: jwt::Args,
    #[command(flatten)]
    api_key: api_key::Args,
    #[command(flatten)]
    audit_store: audit_store::Args,
}

/// Why a run stopped before measuring: a disagreement between the sides, a
/// refused plugin, an unreadable input. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(String);

/// A [`BenchError`] with `message`.
pub fn fail(message: impl Into<String>) -> BenchError {
    BenchError(message.into())
}

/// Reads a bench input (a component, a test vector): files of this
/// repository or of the developer running the bench, so no size cap.
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, BenchError> {
    std::fs::read(path).map_err(|err| fail(format!("cannot read {what} {}: {}", path.display(), err.kind())))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match args.plugin.as_str() {
        "jwt" => jwt::run(&args.jwt, args.samples),
        "api-key" => api_key::run(&args.api_key, args.samples),
        "js" => js::run(args.samples, 3),
        "routes" => routes::run(args.samples),
        "audit-store" => audit_store::run(&args.audit_store, args.seconds),
        _ => example_token::run(&args.example_token, args.samples, args.seconds),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ward-bench: {err}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap checks the argument definitions only when they are parsed; this
    /// runs those checks (unique names and groups) without a bench run.
    #[test]
    fn arguments_are_well_formed() {
        super::Args::command().debug_assert();
    }
}
