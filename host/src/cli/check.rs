//! `ward check [--config ward.json]`: everything `ward serve` would check at start
//! (parse, files, signatures, compilation, probes, conformance), with the
//! same error texts, without opening the audit log or a port.

use std::path::PathBuf;
use std::process::ExitCode;

use ward::lifecycle::Gateway;

use super::CliError;
use super::config_arg::ConfigArg;

/// Arguments of `ward check`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArg,
    /// Deprecated: the ward.json to check; use --config.
    #[arg(value_name = "FILE", conflicts_with = "config")]
    positional: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    // The positional form predates --config, which every command that reads
    // ward.json now shares; it keeps working, with a note on stderr only, so
    // stdout stays what scripts parse.
    let path = match args.positional {
        Some(path) => {
            eprintln!("ward check FILE is deprecated: use ward check --config FILE (or WARD_CONFIG)");
            path
        }
        None => args.config.path(),
    };
    let config = ward::config::load(&path).map_err(|e| CliError::new(e.to_string()))?;
    let audit_file = match &config.plan.audit.redis {
        Some(redis) => format!("redis {} as replica {}", redis.target.label(), redis.replica.as_str()),
        None => config.plan.audit.file.display().to_string(),
    };
    let listen = config.server.listen;
    super::serve::server_options(&config.server, None).validate().map_err(|e| CliError::new(format!("server: {e}")))?;
    let statuses = Gateway::check(&config.plan).map_err(|e| CliError::new(e.to_string()))?;
    let statuses_revoked = statuses.iter().find(|s| s.state == "revoked").map(|s| s.id.clone());
    let tls = match &config.server.tls {
        None => "",
        Some(tls) if tls.client_ca_file.is_some() => ", mutual TLS",
        Some(_) => ", TLS",
    };
    println!("{}: ok (listen {listen}{tls}, audit {audit_file})", path.display());
    for status in statuses {
        let mut line = format!("  plugin {}: {}", status.id, status.state);
        if let (Some(version), Some(signer), Some(entry)) = (&status.version, &status.signer_key_id, &status.entry_sha256) {
            let wasi = if status.imports_wasi == Some(true) { ", imports WASI (deny-all)" } else { "" };
            line.push_str(&format!(", version {version}, signed by {signer}, entry sha256 {entry}{wasi}"));
        }
        println!("{line}");
    }
    // `serve` would start without a revoked plugin; an operator running
    // `check` wants to hear about it all the same.
    if let Some(revoked) = statuses_revoked {
        return Err(CliError::new(format!("plugin {revoked} is revoked by the trust section; serve would deny its route with plugin-unavailable")));
    }
    Ok(ExitCode::SUCCESS)
}
