//! Where a command finds its `ward.json`: `--config FILE`, else the
//! `WARD_CONFIG` environment variable, else `/etc/ward/ward.json` (the Debian
//! package's conffile). One definition for every command that reads the
//! file, so that they all agree (docs/configuration.md).
//!
//! The environment is read here rather than by clap's `env`: clap counts a
//! value from the environment as given on the command line, so a
//! `WARD_CONFIG` set for `ward serve` would then conflict with
//! `ward verify --anchor`.

use std::path::PathBuf;

use super::CliError;

/// The variable that names the config when `--config` is absent.
pub const CONFIG_ENV: &str = "WARD_CONFIG";
/// The config when neither `--config` nor `WARD_CONFIG` names one.
pub const DEFAULT_CONFIG: &str = "/etc/ward/ward.json";

/// `--config FILE`.
#[derive(clap::Args, Debug, Default)]
pub struct ConfigArg {
    /// The ward.json to read [env: WARD_CONFIG] [default: /etc/ward/ward.json].
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    /// The config the operator named: `--config`, else `WARD_CONFIG` (an
    /// empty value counts as unset).
    pub fn named(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| std::env::var_os(CONFIG_ENV).filter(|value| !value.is_empty()).map(PathBuf::from))
    }

    /// The config to read: [`Self::named`], else [`DEFAULT_CONFIG`].
    pub fn path(&self) -> PathBuf {
        self.named().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }

    /// For the commands that take their trust policy from `--anchor` or a
    /// config (`verify`, `authenticate`), without `--anchor`: the named
    /// config, else the default one when it exists.
    pub fn trust_config(&self) -> Result<PathBuf, CliError> {
        match self.named() {
            Some(path) => Ok(path),
            None if std::path::Path::new(DEFAULT_CONFIG).exists() => Ok(PathBuf::from(DEFAULT_CONFIG)),
            None => Err(CliError::new("no trust anchor given")
                .with_hint(format!("pass --anchor FILE.pub or --config ward.json (or set {CONFIG_ENV}; {DEFAULT_CONFIG} does not exist)"))),
        }
    }
}
