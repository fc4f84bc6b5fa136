//! Where the Redis store is and how to reach it: the URL (the password is
//! never in it: it comes from a 0600 file), the key, the timeouts.

use std::time::Duration;

use redis::{ConnectionAddr, IntoConnectionInfo as _};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::audit::AuditError;

/// The longest password file read.
const MAX_PASSWORD_BYTES: usize = 4096;

/// The key used when none is configured.
pub const DEFAULT_KEY: &str = "ward:audit";

/// Why a Redis target was refused (configuration, not a store failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not a `redis://`, `rediss://` (or `valkey(s)://`) URL.
    #[error("not a redis:// or rediss:// URL")]
    BadUrl,
    /// The URL carries a password; it belongs in a 0600 file.
    #[error("the URL must not carry a password: put it in a 0600 file (passwordFile / --password-file)")]
    PasswordInUrl,
    /// `rediss://...#insecure` turns off certificate checks.
    #[error("rediss:// with #insecure (no certificate check) is refused")]
    Insecure,
    /// The key is empty, too long or has characters outside `[A-Za-z0-9._:-]`.
    #[error("the key must be 1 to 128 characters of [A-Za-z0-9._:-]")]
    BadKey,
    /// The password file's content is not UTF-8 text.
    #[error("the password file is not UTF-8 text")]
    BadPassword,
    /// The password file named on the command line could not be read (or
    /// group or others may read it).
    #[error("password file {path}: {reason}")]
    PasswordFile {
        /// The file.
        path: String,
        /// Why (never its content).
        reason: String,
    },
}

impl TargetError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUrl => "redis-bad-url",
            Self::PasswordInUrl => "redis-password-in-url",
            Self::Insecure => "redis-insecure",
            Self::BadKey => "redis-bad-key",
            Self::BadPassword => "redis-bad-password",
            Self::PasswordFile { .. } => "redis-password-file",
        }
    }
}

/// A Redis store's address, key, credentials and timeouts.
#[derive(Clone)]
pub struct RedisTarget {
    info: redis::ConnectionInfo,
    key: String,
    label: String,
    /// Compared by restart checks without keeping a second copy around.
    password_digest: Option<[u8; 32]>,
    connect_timeout: Duration,
    io_timeout: Duration,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget").field("label", &self.label).finish_non_exhaustive()
    }
}

impl PartialEq for RedisTarget {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label
            && self.info.redis_settings().username() == other.info.redis_settings().username()
            && self.password_digest == other.password_digest
            && self.connect_timeout == other.connect_timeout
            && self.io_timeout == other.io_timeout
    }
}

impl Eq for RedisTarget {}

impl RedisTarget {
    /// Parses `url` (`redis://host:port/db`, `rediss://` for TLS with
    /// certificate checks against the web PKI roots), checks `key`, and
    /// takes the password (the bytes of a 0600 file, one trailing newline
    /// ignored).
    pub fn new(url: &str, key: &str, password: Option<Zeroizing<Vec<u8>>>, connect_timeout: Duration, io_timeout: Duration) -> Result<Self, TargetError> {
        if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')) {
            return Err(TargetError::BadKey);
        }
        let info = url.into_connection_info().map_err(|_| TargetError::BadUrl)?;
        if info.redis_settings().password().is_some() {
            return Err(TargetError::PasswordInUrl);
        }
        let (scheme, host, port) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => ("redis", host.clone(), *port),
            ConnectionAddr::TcpTls { insecure: true, .. } => return Err(TargetError::Insecure),
            ConnectionAddr::TcpTls { host, port, .. } => ("rediss", host.clone(), *port),
            _ => return Err(TargetError::BadUrl),
        };
        let label = format!("{scheme}://{host}:{port}/{} key {key}", info.redis_settings().db());
        let mut password_digest = None;
        let info = match password {
            Some(bytes) => {
                let text = std::str::from_utf8(&bytes).map_err(|_| TargetError::BadPassword)?;
                let text = text.strip_suffix('\n').unwrap_or(text);
                password_digest = Some(sha2::Sha256::digest(text.as_bytes()).into());
                let redis = info.redis_settings().clone().set_password(text);
                info.set_redis_settings(redis)
            }
            None => info,
        };
        Ok(Self { info, key: key.to_owned(), label, password_digest, connect_timeout, io_timeout })
    }

    /// [`RedisTarget::new`] for the command line: the password, if any, from
    /// a file only its owner may read (as `--key` files are), default timeouts.
    pub fn from_command_line(url: &str, key: &str, password_file: Option<&std::path::Path>) -> Result<Self, TargetError> {
        let password = password_file
            .map(|path| {
                crate::secret_file::read_secret_file(path, MAX_PASSWORD_BYTES)
                    .map_err(|e| TargetError::PasswordFile { path: path.display().to_string(), reason: password_file_problem(&e) })
            })
            .transpose()?;
        Self::new(url, key, password, Duration::from_secs(5), Duration::from_secs(10))
    }

    /// The address and key for messages: no credentials.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The TCP port it connects to (for the lockdown's connect rule).
    pub fn port(&self) -> u16 {
        match self.info.addr() {
            ConnectionAddr::Tcp(_, port) | ConnectionAddr::TcpTls { port, .. } => *port,
            _ => 0,
        }
    }

    /// Whether the host is a name (resolved through DNS) rather than an address.
    pub fn host_is_name(&self) -> bool {
        match self.info.addr() {
            ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => host.parse::<std::net::IpAddr>().is_err(),
            _ => false,
        }
    }

    /// The stream's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The head's key.
    pub(crate) fn head_key(&self) -> String {
        format!("{}:head", self.key)
    }

    /// The longest one call to Redis may take.
    pub fn io_timeout(&self) -> Duration {
        self.io_timeout
    }

    /// A new connection with read and write timeouts set.
    pub(crate) fn connect(&self) -> Result<redis::Connection, AuditError> {
        let client = redis::Client::open(self.info.clone()).map_err(|e| self.unavailable(&e))?;
        let conn = client.get_connection_with_timeout(self.connect_timeout).map_err(|e| self.unavailable(&e))?;
        conn.set_read_timeout(Some(self.io_timeout)).map_err(|e| self.unavailable(&e))?;
        conn.set_write_timeout(Some(self.io_timeout)).map_err(|e| self.unavailable(&e))?;
        Ok(conn)
    }

    /// Maps a client error: unreachable, timed out or still loading its data
    /// is [`AuditError::StoreUnavailable`] (retried); anything else means
    /// the store answered what a chain store must not.
    pub(crate) fn error(&self, err: &redis::RedisError) -> AuditError {
        // Loading its data after a restart, or refusing this client's
        // credentials (fixed by the operator without restarting ward).
        let waiting = matches!(err.kind(), redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading) | redis::ErrorKind::AuthenticationFailed);
        if err.is_io_error() || err.is_timeout() || err.is_connection_dropped() || err.is_connection_refusal() || waiting {
            self.unavailable(err)
        } else {
            AuditError::StoreHead { store: self.label.clone(), why: "unexpected-reply" }
        }
    }

    fn unavailable(&self, err: &redis::RedisError) -> AuditError {
        // The category, never the detail: a server message could echo input.
        AuditError::StoreUnavailable { store: self.label.clone(), reason: err.category().to_owned() }
    }

    /// A head problem at this store.
    pub(crate) fn bad_head(&self, why: &'static str) -> AuditError {
        AuditError::StoreHead { store: self.label.clone(), why }
    }
}

fn password_file_problem(err: &crate::secret_file::SecretFileError) -> String {
    use crate::secret_file::SecretFileError;
    match err {
        SecretFileError::Unreadable(kind) => kind.clone(),
        SecretFileError::TooOpen(mode) => format!("group or others may read it (mode {mode:o}); run: chmod 600"),
        SecretFileError::TooLarge(_) => format!("larger than {MAX_PASSWORD_BYTES} bytes"),
    }
}
