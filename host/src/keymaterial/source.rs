//! The cache the call path reads: the last good material of one entry,
//! swapped in atomically by refreshes, read without locks or I/O.
//!
//! Refreshes run as a tokio task ([`KeyMaterialSource::spawn_refresh`]) on
//! the runtime `ward serve` already has, or are called directly
//! ([`KeyMaterialSource::refresh_blocking`]) at load and reload. An indexed
//! entry (`jwks`, `api-keys`) is parsed and indexed once per successful
//! fetch, never per call; a body that does not index is a failed refresh. A
//! failed refresh keeps the last good copy; [`KeyMaterialSource::current`]
//! serves it until it is older than the entry's maximum staleness, then
//! reports [`KeyMaterialUnavailable::Stale`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use tokio::sync::Notify;

use super::error::{KeyMaterialError, KeyMaterialUnavailable};
use super::fetch::{Fetcher, block_on};
use super::index::{KeyFormat, KeyIndex};
use super::options::{IndexedFile, MIN_REFRESH, Shape, UrlSource};

/// First retry delay after a failed refresh; it doubles per consecutive
/// failure up to the refresh period, so an outage is probed quickly at
/// first and then no more often than normal refreshes.
pub const RETRY_BASE: Duration = MIN_REFRESH;

/// Bodies larger than this are indexed on tokio's blocking pool, so a big
/// keys file never stalls the threads that serve requests.
const INDEX_INLINE_BYTES: usize = 256 << 10;

/// One entry's material as a call receives it.
#[derive(Clone)]
pub enum Material {
    /// `raw`: the bytes, for `request-context.keys`.
    Raw(Arc<[u8]>),
    /// `jwks` or `api-keys`: the index, for `ward:auth/keys` lookups.
    Indexed(Arc<KeyIndex>),
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Raw(bytes) => write!(f, "Raw(<{} bytes>)", bytes.len()),
            Self::Indexed(index) => write!(f, "Indexed({index:?})"),
        }
    }
}

struct Good {
    material: Material,
    fetched_at: Instant,
}

enum Origin {
    /// `file` entries and anything else whose bytes never go stale.
    Fixed,
    Url {
        source: UrlSource,
        fetcher: Arc<Fetcher>,
        max_stale: Duration,
    },
}

/// Called with each failed refresh's error (the lifecycle audits it).
pub type FailureHook = Arc<dyn Fn(&KeyMaterialError) + Send + Sync>;

/// Early refetches of a `jwks` url, asked for by lookups of unknown ids.
struct Early {
    wake: Arc<Notify>,
    /// Milliseconds after `epoch` of the last one granted; `u64::MAX`: never.
    last_ms: AtomicU64,
    epoch: Instant,
    min: Duration,
    granted: AtomicU64,
}

/// One key-material entry as the call path sees it.
pub struct KeyMaterialSource {
    name: Arc<str>,
    origin: Origin,
    format: KeyFormat,
    good: ArcSwapOption<Good>,
    last_error: ArcSwapOption<KeyMaterialError>,
    /// Indexes built, over the source's life: one per successful fetch.
    builds: AtomicU64,
    early: Option<Early>,
    on_failure: Option<FailureHook>,
}

impl std::fmt::Debug for KeyMaterialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bytes: they may be a secret.
        f.debug_struct("KeyMaterialSource")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("age", &self.age())
            .field("last_error", &self.last_error().map(|err| err.code()))
            .finish_non_exhaustive()
    }
}

impl KeyMaterialSource {
    /// An entry whose bytes are known now and never go stale (a `file`
    /// entry read at load; reload builds a new one).
    pub fn fixed(name: impl Into<String>, bytes: Vec<u8>) -> Self {
        let source = Self::empty(name.into(), Origin::Fixed, KeyFormat::Raw, None);
        source.good.store(Some(Arc::new(Good { material: Material::Raw(Arc::from(bytes)), fetched_at: Instant::now() })));
        source
    }

    /// An indexed `file` entry, indexed now; a file that does not index is
    /// refused (the plugin does not load).
    pub fn fixed_indexed(file: &IndexedFile) -> Result<Self, KeyMaterialError> {
        let source = Self::empty(file.name.clone(), Origin::Fixed, file.shape.format, None);
        let material = source.material(&file.bytes, file.shape)?;
        source.good.store(Some(Arc::new(Good { material, fetched_at: Instant::now() })));
        Ok(source)
    }

    /// A `url` entry with nothing fetched yet: [`KeyMaterialSource::current`]
    /// is [`KeyMaterialUnavailable::NeverFetched`] until a refresh succeeds.
    pub fn url(name: impl Into<String>, source: UrlSource, fetcher: Arc<Fetcher>) -> Result<Self, KeyMaterialError> {
        source.validate(fetcher.policy())?;
        let max_stale = source.max_stale();
        let format = source.shape.format;
        let early = (format == KeyFormat::Jwks).then(|| Early {
            wake: Arc::new(Notify::new()),
            last_ms: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
            min: source.refetch_min,
            granted: AtomicU64::new(0),
        });
        Ok(Self::empty(name.into(), Origin::Url { source, fetcher, max_stale }, format, early))
    }

    fn empty(name: String, origin: Origin, format: KeyFormat, early: Option<Early>) -> Self {
        Self {
            name: Arc::from(name),
            origin,
            format,
            good: ArcSwapOption::empty(),
            last_error: ArcSwapOption::empty(),
            builds: AtomicU64::new(0),
            early,
            on_failure: None,
        }
    }

    /// Calls `hook` with the error of every failed refresh from now on.
    pub fn on_failure(mut self, hook: FailureHook) -> Self {
        self.on_failure = Some(hook);
        self
    }

    /// The bytes as the plugin will see them: as they are, or indexed.
    fn material(&self, bytes: &[u8], shape: Shape) -> Result<Material, KeyMaterialError> {
        if !shape.format.is_indexed() {
            return Ok(Material::Raw(Arc::from(bytes)));
        }
        let index = KeyIndex::build(shape.format, bytes, shape.max_entries)?;
        self.builds.fetch_add(1, Ordering::Relaxed);
        Ok(Material::Indexed(Arc::new(index)))
    }

    /// The entry's format.
    pub fn format(&self) -> KeyFormat {
        self.format
    }

    /// How many times this entry has been indexed: once per successful
    /// fetch of an indexed entry, never per call.
    pub fn index_builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Asks for an early refetch because a lookup did not find its id (a
    /// token naming a `kid` the set does not hold yet, as after an issuer's
    /// key rotation). Granted at most once per `refetchMinSeconds`, only for
    /// a `jwks` url, and only to a running refresh task; never blocks, never
    /// allocates. Returns whether this call was granted one.
    pub fn request_early_refetch(&self) -> bool {
        let Some(early) = &self.early else { return false };
        let now = u64::try_from(early.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = early.last_ms.load(Ordering::Acquire);
        let min = u64::try_from(early.min.as_millis()).unwrap_or(u64::MAX);
        if last != u64::MAX && now.saturating_sub(last) < min {
            return false;
        }
        // One winner per window, however many calls miss at once.
        if early.last_ms.compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return false;
        }
        early.granted.fetch_add(1, Ordering::Relaxed);
        early.wake.notify_one();
        true
    }

    /// Early refetches granted so far.
    pub fn early_refetches(&self) -> u64 {
        self.early.as_ref().map_or(0, |early| early.granted.load(Ordering::Relaxed))
    }

    /// The entry's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The entry's name, shared (a call's snapshot names its sets with it
    /// without copying).
    pub fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    /// The last good material, for the per-request path: one atomic load,
    /// one reference-count increment, no I/O, never blocks.
    pub fn current(&self) -> Result<Material, KeyMaterialUnavailable> {
        self.current_at(Instant::now())
    }

    fn current_at(&self, now: Instant) -> Result<Material, KeyMaterialUnavailable> {
        let guard = self.good.load();
        let good = guard.as_ref().ok_or(KeyMaterialUnavailable::NeverFetched)?;
        if let Origin::Url { max_stale, .. } = &self.origin
            && now.saturating_duration_since(good.fetched_at) > *max_stale
        {
            return Err(KeyMaterialUnavailable::Stale);
        }
        Ok(good.material.clone())
    }

    /// Time since the last good copy was fetched (or the fixed bytes were
    /// set); `None` before the first success.
    pub fn age(&self) -> Option<Duration> {
        self.good.load().as_ref().map(|good| good.fetched_at.elapsed())
    }

    /// The error of the last refresh, if it failed; cleared by a success.
    pub fn last_error(&self) -> Option<KeyMaterialError> {
        self.last_error.load().as_ref().map(|err| KeyMaterialError::clone(err))
    }

    /// The refresh period, or `None` for fixed bytes.
    pub fn refresh_period(&self) -> Option<Duration> {
        match &self.origin {
            Origin::Fixed => None,
            Origin::Url { source, .. } => Some(source.refresh),
        }
    }

    /// Fetches once and, on success (for an indexed entry: the body indexed
    /// too), replaces the cached copy. On failure the last good copy stays,
    /// the error is kept for [`KeyMaterialSource::last_error`] and passed to
    /// the failure hook. Fixed bytes: nothing to do.
    pub async fn refresh(&self) -> Result<(), KeyMaterialError> {
        let Origin::Url { source, fetcher, .. } = &self.origin else {
            return Ok(());
        };
        let fetched = fetcher.fetch(source).await;
        let material = match fetched {
            Ok(bytes) if bytes.len() > INDEX_INLINE_BYTES && self.format.is_indexed() => {
                let shape = source.shape;
                let built = tokio::task::spawn_blocking(move || KeyIndex::build(shape.format, &bytes, shape.max_entries)).await;
                match built {
                    Ok(Ok(index)) => {
                        self.builds.fetch_add(1, Ordering::Relaxed);
                        Ok(Material::Indexed(Arc::new(index)))
                    }
                    Ok(Err(err)) => Err(err.into()),
                    Err(join) => Err(KeyMaterialError::Setup { reason: format!("indexing did not finish: {join}") }),
                }
            }
            Ok(bytes) => self.material(&bytes, source.shape),
            Err(err) => Err(err),
        };
        match material {
            Ok(material) => {
                self.good.store(Some(Arc::new(Good { material, fetched_at: Instant::now() })));
                self.last_error.store(None);
                Ok(())
            }
            Err(err) => {
                self.last_error.store(Some(Arc::new(err.clone())));
                if let Some(hook) = &self.on_failure {
                    hook(&err);
                }
                Err(err)
            }
        }
    }

    /// [`KeyMaterialSource::refresh`] from sync code, e.g. at load and
    /// reload; see [`Fetcher::fetch_blocking`] for how it runs.
    pub fn refresh_blocking(&self) -> Result<(), KeyMaterialError> {
        block_on(|| self.refresh())
    }

    /// Starts refreshing this entry on `runtime` every refresh period (at
    /// once if nothing was fetched yet; after a failure with a doubling
    /// delay from [`RETRY_BASE`] up to the period). The task holds only a
    /// weak reference: it ends when the source is dropped or the returned
    /// handle is. Fixed bytes start no task.
    pub fn spawn_refresh(self: &Arc<Self>, runtime: &tokio::runtime::Handle) -> RefreshTask {
        let task = match self.origin {
            Origin::Fixed => None,
            Origin::Url { .. } => {
                let wake = self.early.as_ref().map(|early| Arc::clone(&early.wake));
                Some(runtime.spawn(refresh_loop(Arc::downgrade(self), wake)))
            }
        };
        RefreshTask { task }
    }

    fn next_delay(&self, failures: u32) -> Duration {
        let refresh = self.refresh_period().unwrap_or(Duration::MAX);
        if failures == 0 {
            return match self.age() {
                Some(age) => refresh.saturating_sub(age),
                None => Duration::ZERO,
            };
        }
        let factor = 1_u32.checked_shl(failures.saturating_sub(1)).unwrap_or(u32::MAX);
        RETRY_BASE.saturating_mul(factor).min(refresh)
    }
}

async fn refresh_loop(source: Weak<KeyMaterialSource>, early: Option<Arc<Notify>>) {
    let mut failures: u32 = 0;
    loop {
        // No strong reference across the sleep, so dropping the source ends
        // the task at its next wake-up.
        let Some(delay) = source.upgrade().map(|s| s.next_delay(failures)) else {
            return;
        };
        match &early {
            // An early refetch (a lookup of an unknown `kid`) cuts the wait short.
            Some(wake) => tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = wake.notified() => {}
            },
            None => tokio::time::sleep(delay).await,
        }
        let Some(strong) = source.upgrade() else {
            return;
        };
        match strong.refresh().await {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!(key_material = strong.name(), "key material refresh recovered");
                }
                failures = 0;
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                tracing::warn!(
                    key_material = strong.name(),
                    code = err.code(),
                    failures,
                    error = %err,
                    "key material refresh failed; serving the last good copy if it is fresh enough",
                );
            }
        }
    }
}

/// The background refresh of one entry; dropping it stops the task.
#[derive(Debug)]
pub struct RefreshTask {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RefreshTask {
    /// Stops the task now (dropping does the same).
    pub fn stop(self) {}
}

impl Drop for RefreshTask {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymaterial::FetchPolicy;

    fn url_source(max_stale: Duration) -> KeyMaterialSource {
        let fetcher = Arc::new(Fetcher::new(FetchPolicy::default()).unwrap());
        let source = UrlSource { max_stale: Some(max_stale), ..UrlSource::new("https://issuer.example/jwks") };
        KeyMaterialSource::url("jwks", source, fetcher).unwrap()
    }

    fn store(source: &KeyMaterialSource, bytes: &[u8], at: Instant) {
        source.good.store(Some(Arc::new(Good { material: Material::Raw(Arc::from(bytes)), fetched_at: at })));
    }

    fn raw(material: Result<Material, KeyMaterialUnavailable>) -> Vec<u8> {
        match material {
            Ok(Material::Raw(bytes)) => bytes.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unavailable_before_the_first_success() {
        let source = url_source(Duration::from_secs(3600));
        assert_eq!(source.current().err(), Some(KeyMaterialUnavailable::NeverFetched));
        assert_eq!(source.age(), None);
    }

    #[test]
    fn served_until_max_staleness_then_stale() {
        let max = Duration::from_secs(3600);
        let source = url_source(max);
        let t0 = Instant::now();
        store(&source, b"keys", t0);
        assert_eq!(raw(source.current_at(t0)), b"keys");
        assert_eq!(raw(source.current_at(t0 + max)), b"keys");
        assert_eq!(source.current_at(t0 + max + Duration::from_millis(1)).err(), Some(KeyMaterialUnavailable::Stale));
        // A clock that went backwards is not staleness.
        assert!(source.current_at(t0.checked_sub(Duration::from_secs(1)).unwrap_or(t0)).is_ok());
    }

    #[test]
    fn fixed_bytes_never_go_stale() {
        let source = KeyMaterialSource::fixed("k", b"v".to_vec());
        let far = Instant::now() + Duration::from_secs(10 * 365 * 86400);
        assert_eq!(raw(source.current_at(far)), b"v");
        assert_eq!(source.refresh_period(), None);
        source.refresh_blocking().unwrap();
    }

    #[test]
    fn retry_delay_doubles_up_to_the_refresh_period() {
        let source = url_source(Duration::from_secs(3600));
        assert_eq!(source.next_delay(0), Duration::ZERO);
        assert_eq!(source.next_delay(1), Duration::from_secs(1));
        assert_eq!(source.next_delay(2), Duration::from_secs(2));
        assert_eq!(source.next_delay(5), Duration::from_secs(16));
        assert_eq!(source.next_delay(9), Duration::from_secs(256));
        assert_eq!(source.next_delay(10), Duration::from_secs(300));
        assert_eq!(source.next_delay(u32::MAX), Duration::from_secs(300));
        store(&source, b"k", Instant::now());
        let wait = source.next_delay(0);
        assert!(wait <= Duration::from_secs(300) && wait > Duration::from_secs(298), "{wait:?}");
    }

    #[test]
    fn debug_never_prints_the_bytes() {
        let source = KeyMaterialSource::fixed("k", b"super-secret-hmac-key".to_vec());
        assert!(!format!("{source:?}").contains("super-secret"));
        let file = IndexedFile { name: "k".into(), shape: Shape { format: KeyFormat::Jwks, ..Shape::default() }, bytes: b"{\"keys\":[]}".to_vec() };
        let indexed = KeyMaterialSource::fixed_indexed(&file).unwrap();
        assert!(!format!("{indexed:?} {:?} {file:?}", indexed.current().unwrap()).contains("keys\""));
    }

    #[test]
    fn indexed_files_are_indexed_once_or_refused() {
        let jwks = Shape { format: KeyFormat::Jwks, ..Shape::default() };
        let file = IndexedFile { name: "jwks".into(), shape: jwks, bytes: b"{\"keys\":[]}".to_vec() };
        let source = KeyMaterialSource::fixed_indexed(&file).unwrap();
        for _ in 0..3 {
            assert!(matches!(source.current(), Ok(Material::Indexed(_))));
        }
        assert_eq!(source.index_builds(), 1);
        let bad = IndexedFile { bytes: b"{\"keys\":".to_vec(), ..file };
        assert_eq!(KeyMaterialSource::fixed_indexed(&bad).unwrap_err().code(), "keymaterial-jwks-invalid");
    }

    #[test]
    fn early_refetches_are_rate_limited_and_jwks_only() {
        let fetcher = Arc::new(Fetcher::new(FetchPolicy::default()).unwrap());
        let jwks = UrlSource { shape: Shape { format: KeyFormat::Jwks, ..Shape::default() }, ..UrlSource::new("https://issuer.example/jwks") };
        let source = KeyMaterialSource::url("jwks", jwks.clone(), Arc::clone(&fetcher)).unwrap();
        assert!(source.request_early_refetch(), "the first miss is granted");
        assert!(!source.request_early_refetch(), "a second within refetchMinSeconds is not");
        assert_eq!(source.early_refetches(), 1);
        let quick = UrlSource { refetch_min: Duration::from_secs(1), ..jwks };
        let source = KeyMaterialSource::url("jwks", quick, Arc::clone(&fetcher)).unwrap();
        assert!(source.request_early_refetch());
        if let Some(early) = &source.early {
            early.last_ms.store(0, Ordering::Release);
        }
        // `epoch` is now at least as old as the test; pretend a second passed.
        std::thread::sleep(Duration::from_millis(1001));
        assert!(source.request_early_refetch(), "granted again after the window");
        let raw = KeyMaterialSource::url("raw", UrlSource::new("https://issuer.example/raw"), fetcher).unwrap();
        assert!(!raw.request_early_refetch(), "only jwks sets refetch on a miss");
        assert!(!KeyMaterialSource::fixed("f", Vec::new()).request_early_refetch());
    }
}
