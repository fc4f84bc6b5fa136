//! Key material for plugins, fetched by the host and never by the guest.
//!
//! A plugin's `keyMaterial` entries are `file` (read at load and reload
//! through the config's confined directory, [`read_file`]) or `url`
//! (fetched, cached and refreshed here). The guest receives the bytes in
//! `request-context.keys`; it has no network of its own.
//!
//! Guarantees of this room (see `docs/key-material.md`):
//! - A `url` fetch is `https` unless the operator lists the host in
//!   `allowHttpHosts`; it has a connect timeout, a total deadline and a body
//!   cap counted as bytes arrive; only `200` is accepted and redirects are
//!   never followed.
//! - SSRF guard: the host name is resolved once, every address is checked
//!   against the deny list in `addr.rs` (and an IPv6 form carrying an IPv4
//!   address is judged by that address), one denied address refuses the
//!   whole name unless `allowCidrs` covers it (`guard.rs`), and the connection goes to a
//!   checked address with SNI and `Host` set to the name.
//! - [`KeyMaterialSource::current`] never blocks and serves the last good
//!   copy up to its maximum staleness; after that, or before the first
//!   success, it is [`KeyMaterialUnavailable`].
//! - Errors carry the host, never the URL's path, query or userinfo, and
//!   never the body.

mod addr;
mod error;
mod fetch;
mod file;
mod guard;
mod index;
mod options;
mod resolve;
mod source;
mod target;
mod tls;

pub use addr::{DeniedRange, classify};
pub use error::{KeyMaterialError, KeyMaterialUnavailable};
pub use fetch::Fetcher;
pub use file::read_file;
pub use guard::Cidr;
pub use index::{ALG_VIEW_SUFFIX, DEFAULT_MAX_ENTRIES, IndexError, JwsAlg, KeyFormat, KeyIndex, MAX_ID_BYTES, MAX_MAX_ENTRIES};
pub use options::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BYTES, DEFAULT_MAX_STALE_FLOOR, DEFAULT_REFETCH_MIN, DEFAULT_REFRESH, DEFAULT_TOTAL_TIMEOUT, FetchPolicy, FileSource,
    IndexedFile, KeyMaterialEntry, KeyOrigin, MAX_MAX_BYTES, MAX_MAX_BYTES_INDEXED, MAX_NAME_BYTES, MAX_TIMEOUT, MIN_REFRESH, Shape, UrlSource,
};
pub use resolve::{Resolve, SystemResolver};
pub use source::{FailureHook, KeyMaterialSource, Material, RETRY_BASE, RefreshTask};
pub use target::MAX_URL_BYTES;
pub use tls::MAX_CA_FILE_BYTES;
