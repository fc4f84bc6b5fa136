//! `server.tls`: the listener's certificate chain, key and optional client
//! CA, named in `ward.json` and read like every file it names (confined to
//! the config's directory and `allowDirs`, regular files only, capped), the
//! key as a secret (refused if group or others may read it).
//!
//! The paths are fixed when `ward serve` starts (changing them is a restart,
//! like the rest of the `server` section); the files behind them are read
//! again at every SIGHUP ([`CertSource`]), so a renewed certificate is
//! picked up without one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::operator_file::FileRefusal;
use crate::server::{CertRefusal, CertSource, TlsFile, TlsPem, tls_server_config};

use super::ConfigError;
use super::dir::ConfinedDirs;

/// A certificate chain or CA bundle larger than this is a mistake.
const MAX_CERT_BYTES: u64 = 1024 * 1024;
/// An RSA-8192 key in PEM is under 7 KiB.
const MAX_KEY_BYTES: u64 = 16 * 1024;

/// `server.tls` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: Option<PathBuf>,
}

/// `server.tls`, validated: where the files are, and how to read them again.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// `certFile`: the chain, leaf first.
    pub cert_file: PathBuf,
    /// `keyFile`: the leaf's private key, mode 0600 or stricter.
    pub key_file: PathBuf,
    /// `clientCaFile`: with it, mutual TLS.
    pub client_ca_file: Option<PathBuf>,
    /// The config file as shown in errors, its directory and `allowDirs`,
    /// to confine the re-reads as the first read was.
    shown: String,
    base: PathBuf,
    allow_dirs: Vec<PathBuf>,
}

/// The same files: a reload that names others needs a restart.
impl PartialEq for TlsFiles {
    fn eq(&self, other: &Self) -> bool {
        (&self.cert_file, &self.key_file, &self.client_ca_file) == (&other.cert_file, &other.key_file, &other.client_ca_file)
    }
}

impl Eq for TlsFiles {}

impl TlsFiles {
    /// Reads and checks the files once, as `ward check` and a start do.
    pub(crate) fn new(raw: RawTls, shown: &str, base: &Path, allow_dirs: &[PathBuf], dirs: &ConfinedDirs) -> Result<Self, ConfigError> {
        let files = Self {
            cert_file: raw.cert_file,
            key_file: raw.key_file,
            client_ca_file: raw.client_ca_file,
            shown: shown.to_owned(),
            base: base.to_path_buf(),
            allow_dirs: allow_dirs.to_vec(),
        };
        files.build(dirs)?;
        Ok(files)
    }

    /// Reads the three files through `dirs` and builds the listener's configuration.
    fn build(&self, dirs: &ConfinedDirs) -> Result<Arc<rustls::ServerConfig>, ConfigError> {
        let refused = |at: &str, path: &Path, err: FileRefusal| self.invalid(at, format!("{} {err}", path.display()));
        let pem = TlsPem {
            cert_chain: dirs.read(&self.cert_file, MAX_CERT_BYTES).map_err(|e| refused("certFile", &self.cert_file, e))?,
            key: dirs.read_secret(&self.key_file, MAX_KEY_BYTES).map_err(|e| refused("keyFile", &self.key_file, e))?,
            client_ca: match &self.client_ca_file {
                Some(path) => Some(dirs.read(path, MAX_CERT_BYTES).map_err(|e| refused("clientCaFile", path, e))?),
                None => None,
            },
        };
        tls_server_config(&pem).map_err(|err| {
            let (at, path) = match err.file() {
                TlsFile::Cert => ("certFile", &self.cert_file),
                TlsFile::Key => ("keyFile", &self.key_file),
                TlsFile::ClientCa => ("clientCaFile", self.client_ca_file.as_ref().unwrap_or(&self.cert_file)),
            };
            self.invalid(at, format!("{} {err} ({})", path.display(), err.code()))
        })
    }

    fn invalid(&self, field: &str, problem: String) -> ConfigError {
        ConfigError::Invalid { path: self.shown.clone(), at: format!("server.tls.{field}"), problem }
    }
}

impl CertSource for TlsFiles {
    fn load(&self) -> Result<Arc<rustls::ServerConfig>, CertRefusal> {
        let dirs = ConfinedDirs::open(&self.base, &self.allow_dirs).map_err(|(_, problem)| self.invalid("certFile", problem));
        dirs.and_then(|dirs| self.build(&dirs)).map_err(|err| CertRefusal { code: err.code(), message: err.to_string() })
    }
}
