//! The typed options the config room fills from `ward.json`: the global
//! fetch policy and one entry per key-material item. Every default is a
//! named constant so the docs and `ward check` can quote it.

use std::path::PathBuf;
use std::time::Duration;

use super::error::KeyMaterialError;
use super::guard::Cidr;
use super::index::{DEFAULT_MAX_ENTRIES, KeyFormat, MAX_MAX_ENTRIES};
use super::target::{Scheme, Target};

/// Default `maxBytes`: a JWKS with a dozen RSA keys is about 10 KiB, an
/// api-key file of a few thousand keys a few hundred.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;
/// The largest `maxBytes` accepted for `raw` material: every byte is copied
/// into each call's guest memory.
pub const MAX_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// The largest `maxBytes` accepted for indexed material (`jwks`,
/// `api-keys`), which is parsed once and never copied into a call: room for
/// a million keys in the keys-file format (about 120 MB) and then some.
pub const MAX_MAX_BYTES_INDEXED: u64 = 256 * 1024 * 1024;
/// Default `refetchMinSeconds`: a `jwks` url is refetched early, when a
/// token names a `kid` it does not hold, at most this often.
pub const DEFAULT_REFETCH_MIN: Duration = Duration::from_secs(30);
/// Default `refreshSeconds`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
/// The shortest refresh period accepted, so a typo cannot hammer an issuer.
pub const MIN_REFRESH: Duration = Duration::from_secs(1);
/// The floor of the default maximum staleness (see [`UrlSource::max_stale`]).
pub const DEFAULT_MAX_STALE_FLOOR: Duration = Duration::from_secs(3600);
/// Default `connectTimeoutMs`: each TCP connect attempt, and the TLS handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `totalTimeoutMs`: the whole fetch, resolution to last body byte.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest timeout accepted for either.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest key-material name; names reach the guest and audit lines.
pub const MAX_NAME_BYTES: usize = 64;

/// How every `url` entry is fetched (`ward.json`: `keyMaterialFetch`, or
/// wherever the config room puts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// `allowHttpHosts`: host names or IPv4 literals (exact,
    /// case-insensitive, no port) that may be fetched over plain `http`. The SSRF guard still applies to
    /// them. Default: none.
    pub allow_http_hosts: Vec<String>,
    /// `allowCidrs`: address blocks the guard lets through even though they
    /// are in a denied range (e.g. `10.20.0.0/16` for an internal issuer).
    /// `0.0.0.0/0` and `::/0` switch the guard off. Default: none.
    pub allow_cidrs: Vec<Cidr>,
    /// `caFile`: a PEM bundle of extra trust anchors. Default: none.
    pub ca_file: Option<PathBuf>,
    /// `publicRoots`: trust the Mozilla root set (webpki-roots) as well.
    /// Turn it off to accept only `caFile`'s anchors. Default: `true`.
    pub public_roots: bool,
    /// `connectTimeoutMs`: the limit for the TCP connect to one address, and
    /// separately for the TLS handshake. Default: [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// `totalTimeoutMs`: resolution, connect, handshake, request and the
    /// whole body. A body that drips in slowly ends here. Default:
    /// [`DEFAULT_TOTAL_TIMEOUT`].
    pub total_timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            allow_http_hosts: Vec::new(),
            allow_cidrs: Vec::new(),
            ca_file: None,
            public_roots: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
        }
    }
}

impl FetchPolicy {
    /// Checks ranges; the CA file is read when a [`super::Fetcher`] is built.
    pub fn validate(&self) -> Result<(), KeyMaterialError> {
        let bad = |field, reason: &str| Err(KeyMaterialError::InvalidOption { field, reason: reason.to_owned() });
        if self.connect_timeout.is_zero() || self.connect_timeout > MAX_TIMEOUT {
            return bad("connectTimeoutMs", "must be between 1 ms and 300 s");
        }
        if self.total_timeout.is_zero() || self.total_timeout > MAX_TIMEOUT {
            return bad("totalTimeoutMs", "must be between 1 ms and 300 s");
        }
        if self.connect_timeout > self.total_timeout {
            return bad("connectTimeoutMs", "must not exceed totalTimeoutMs");
        }
        for host in &self.allow_http_hosts {
            if host.is_empty() || host.contains([':', '/', '@']) || !host.is_ascii() {
                return bad("allowHttpHosts", "entries are bare host names (no scheme, port or path)");
            }
        }
        if !self.public_roots && self.ca_file.is_none() {
            return bad("publicRoots", "with publicRoots off, caFile must name the trust anchors");
        }
        Ok(())
    }

    /// Whether plain `http` is allowed to `host` (already lower-case).
    pub(crate) fn allows_http(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.allow_http_hosts.iter().any(|allowed| {
            let allowed = allowed.strip_suffix('.').unwrap_or(allowed);
            allowed.eq_ignore_ascii_case(host)
        })
    }

    /// Parses the URL and applies the scheme rule: everything that can be
    /// decided without the network.
    pub(crate) fn target(&self, url: &str) -> Result<Target, KeyMaterialError> {
        let target = Target::parse(url)?;
        if target.scheme == Scheme::Http && !self.allows_http(&target.host_text) {
            return Err(KeyMaterialError::PlainHttpNotAllowed { host: target.host_text });
        }
        Ok(target)
    }
}

/// One `url` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSource {
    /// `url`: `https://…` (or `http://…` for an `allowHttpHosts` host). No
    /// userinfo; a token in the query is allowed and never logged.
    pub url: String,
    /// `maxBytes`: the body cap. Default [`DEFAULT_MAX_BYTES`], at most
    /// [`MAX_MAX_BYTES`].
    pub max_bytes: u64,
    /// `refreshSeconds`: time between successful fetches. Default
    /// [`DEFAULT_REFRESH`], at least [`MIN_REFRESH`].
    pub refresh: Duration,
    /// `maxStaleSeconds`: how long the last good copy is served while
    /// refreshes fail. `None` means the larger of one hour and three refresh
    /// periods; see [`UrlSource::max_stale`].
    pub max_stale: Option<Duration>,
    /// `format`, `maxEntries`: how the body is handed to the plugin.
    pub shape: Shape,
    /// `refetchMinSeconds` (`jwks` only): the shortest time between two
    /// early refetches that a lookup of an unknown `kid` asks for. Default
    /// [`DEFAULT_REFETCH_MIN`], at least [`MIN_REFRESH`].
    pub refetch_min: Duration,
}

/// An entry's `format` and, for an indexed one, its `maxEntries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// `format`: `raw` (default), `jwks` or `api-keys`.
    pub format: KeyFormat,
    /// `maxEntries`: default [`DEFAULT_MAX_ENTRIES`], at most [`MAX_MAX_ENTRIES`].
    pub max_entries: u64,
}

impl Default for Shape {
    fn default() -> Self {
        Self { format: KeyFormat::Raw, max_entries: DEFAULT_MAX_ENTRIES }
    }
}

impl Shape {
    /// The largest `maxBytes` this format allows.
    pub fn max_max_bytes(&self) -> u64 {
        if self.format.is_indexed() { MAX_MAX_BYTES_INDEXED } else { MAX_MAX_BYTES }
    }

    /// Checks `maxEntries` and the byte cap against the format.
    pub fn validate(&self, max_bytes: u64) -> Result<(), KeyMaterialError> {
        if self.max_entries == 0 || self.max_entries > MAX_MAX_ENTRIES {
            return Err(KeyMaterialError::InvalidOption { field: "maxEntries", reason: format!("must be between 1 and {MAX_MAX_ENTRIES}") });
        }
        check_max_bytes(max_bytes, self.max_max_bytes())
    }
}

impl UrlSource {
    /// An entry for `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            refresh: DEFAULT_REFRESH,
            max_stale: None,
            shape: Shape::default(),
            refetch_min: DEFAULT_REFETCH_MIN,
        }
    }

    /// The effective maximum staleness: `max_stale`, or the larger of
    /// [`DEFAULT_MAX_STALE_FLOOR`] and three refresh periods.
    pub fn max_stale(&self) -> Duration {
        self.max_stale.unwrap_or_else(|| DEFAULT_MAX_STALE_FLOOR.max(self.refresh.saturating_mul(3)))
    }

    /// Everything about the entry that can be checked without the network.
    pub fn validate(&self, policy: &FetchPolicy) -> Result<(), KeyMaterialError> {
        self.shape.validate(self.max_bytes)?;
        if self.refetch_min < MIN_REFRESH {
            return Err(KeyMaterialError::InvalidOption { field: "refetchMinSeconds", reason: "must be at least 1".into() });
        }
        if self.refresh < MIN_REFRESH {
            return Err(KeyMaterialError::InvalidOption { field: "refreshSeconds", reason: "must be at least 1".into() });
        }
        if self.max_stale() <= self.refresh {
            return Err(KeyMaterialError::InvalidOption {
                field: "maxStaleSeconds",
                reason: "must be longer than refreshSeconds, or every copy goes stale before the next refresh".into(),
            });
        }
        policy.target(&self.url).map(|_| ())
    }
}

/// One `file` entry. The config room opens `path` inside its confined
/// directory and hands the open file to [`super::read_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    /// `file`: relative to the config's confined directory.
    pub path: PathBuf,
    /// `maxBytes`: default [`DEFAULT_MAX_BYTES`], at most
    /// [`Shape::max_max_bytes`].
    pub max_bytes: u64,
    /// `format`, `maxEntries`.
    pub shape: Shape,
}

/// An indexed `file` entry as read at load or reload: the lifecycle
/// indexes it when it builds the plugin (a malformed one refuses the
/// plugin), and drops the bytes once indexed.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexedFile {
    /// `name`.
    pub name: String,
    /// `format` (indexed) and `maxEntries`.
    pub shape: Shape,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for IndexedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bytes: an api-key file's subjects are not for logs.
        write!(f, "IndexedFile {{ name: {:?}, shape: {:?}, bytes: {} }}", self.name, self.shape, self.bytes.len())
    }
}

/// Where an entry's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Read at load and at reload.
    File(FileSource),
    /// Fetched by the host, cached and refreshed.
    Url(UrlSource),
}

/// One `keyMaterial` entry of a plugin: `{ name, file | url, maxBytes,
/// refreshSeconds, maxStaleSeconds }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMaterialEntry {
    /// `name`: what the guest sees in `request-context.keys`. 1 to 64 bytes
    /// of `A-Z a-z 0-9 . _ -`.
    pub name: String,
    /// `file` or `url`, with the size and refresh options that go with it.
    pub origin: KeyOrigin,
}

impl KeyMaterialEntry {
    /// Checks the name and the origin's options (no file or network access).
    pub fn validate(&self, policy: &FetchPolicy) -> Result<(), KeyMaterialError> {
        check_name(&self.name)?;
        match &self.origin {
            KeyOrigin::File(file) => file.shape.validate(file.max_bytes),
            KeyOrigin::Url(url) => url.validate(policy),
        }
    }
}

fn check_name(name: &str) -> Result<(), KeyMaterialError> {
    let ok = !name.is_empty() && name.len() <= MAX_NAME_BYTES && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err(KeyMaterialError::InvalidOption { field: "name", reason: "1 to 64 bytes of A-Z a-z 0-9 . _ -".into() }) }
}

fn check_max_bytes(max_bytes: u64, max: u64) -> Result<(), KeyMaterialError> {
    if max_bytes == 0 || max_bytes > max {
        return Err(KeyMaterialError::InvalidOption { field: "maxBytes", reason: format!("must be between 1 and {max}") });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let policy = FetchPolicy::default();
        policy.validate().unwrap();
        let url = UrlSource::new("https://issuer.example/jwks.json");
        url.validate(&policy).unwrap();
        assert_eq!(url.max_stale(), Duration::from_secs(3600));
        let slow = UrlSource { refresh: Duration::from_secs(7200), ..url };
        assert_eq!(slow.max_stale(), Duration::from_secs(21600));
    }

    #[test]
    fn refuses_out_of_range_options() {
        let policy = FetchPolicy::default();
        let url = UrlSource::new("https://issuer.example/");
        let field = |r: Result<(), KeyMaterialError>| match r {
            Err(KeyMaterialError::InvalidOption { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(UrlSource { max_bytes: 0, ..url.clone() }.validate(&policy)), "maxBytes");
        assert_eq!(field(UrlSource { max_bytes: MAX_MAX_BYTES + 1, ..url.clone() }.validate(&policy)), "maxBytes");
        let jwks = Shape { format: KeyFormat::Jwks, ..Shape::default() };
        UrlSource { max_bytes: MAX_MAX_BYTES + 1, shape: jwks, ..url.clone() }.validate(&policy).unwrap();
        assert_eq!(field(UrlSource { max_bytes: MAX_MAX_BYTES_INDEXED + 1, shape: jwks, ..url.clone() }.validate(&policy)), "maxBytes");
        assert_eq!(field(UrlSource { shape: Shape { max_entries: 0, ..jwks }, ..url.clone() }.validate(&policy)), "maxEntries");
        assert_eq!(field(UrlSource { refetch_min: Duration::ZERO, ..url.clone() }.validate(&policy)), "refetchMinSeconds");
        assert_eq!(field(UrlSource { refresh: Duration::ZERO, ..url.clone() }.validate(&policy)), "refreshSeconds");
        let stale = UrlSource { max_stale: Some(Duration::from_secs(300)), ..url.clone() };
        assert_eq!(field(stale.validate(&policy)), "maxStaleSeconds");
        let p = |f: fn(&mut FetchPolicy)| {
            let mut p = FetchPolicy::default();
            f(&mut p);
            field(p.validate())
        };
        assert_eq!(p(|p| p.connect_timeout = Duration::ZERO), "connectTimeoutMs");
        assert_eq!(p(|p| p.total_timeout = Duration::from_secs(301)), "totalTimeoutMs");
        assert_eq!(p(|p| p.connect_timeout = Duration::from_secs(60)), "connectTimeoutMs");
        assert_eq!(p(|p| p.allow_http_hosts = vec!["http://x".into()]), "allowHttpHosts");
        assert_eq!(p(|p| p.public_roots = false), "publicRoots");
        let entry = |name: &str| KeyMaterialEntry { name: name.into(), origin: KeyOrigin::Url(url.clone()) };
        entry("jwks").validate(&policy).unwrap();
        assert_eq!(field(entry("").validate(&policy)), "name");
        assert_eq!(field(entry("a b").validate(&policy)), "name");
        assert_eq!(field(entry(&"a".repeat(65)).validate(&policy)), "name");
    }

    #[test]
    fn plain_http_only_for_listed_hosts() {
        let url = UrlSource::new("http://Keys.Internal./jwks");
        let err = url.validate(&FetchPolicy::default()).unwrap_err();
        assert_eq!(err.code(), "keymaterial-plain-http");
        let policy = FetchPolicy { allow_http_hosts: vec!["keys.internal".into()], ..FetchPolicy::default() };
        url.validate(&policy).unwrap();
        let other = UrlSource::new("http://keys.internal.evil/jwks");
        assert_eq!(other.validate(&policy).unwrap_err().code(), "keymaterial-plain-http");
    }
}
