//! The cache the call path reads: the last good bytes of one entry, swapped
//! in atomically by refreshes, read without locks or I/O.
//!
//! Refreshes run as a tokio task ([`KeyMaterialSource::spawn_refresh`]) on
//! the runtime `ward serve` already has, or are called directly
//! ([`KeyMaterialSource::refresh_blocking`]) at load and reload. A failed
//! refresh keeps the last good copy; [`KeyMaterialSource::current`] serves
//! it until it is older than the entry's maximum staleness, then reports
//! [`KeyMaterialUnavailable::Stale`].

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use super::error::{KeyMaterialError, KeyMaterialUnavailable};
use super::fetch::{Fetcher, block_on};
use super::options::{MIN_REFRESH, UrlSource};

/// First retry delay after a failed refresh; it doubles per consecutive
/// failure up to the refresh period, so an outage is probed quickly at
/// first and then no more often than normal refreshes.
pub const RETRY_BASE: Duration = MIN_REFRESH;

struct Good {
    bytes: Arc<[u8]>,
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

/// One key-material entry as the call path sees it.
pub struct KeyMaterialSource {
    name: String,
    origin: Origin,
    good: ArcSwapOption<Good>,
    last_error: ArcSwapOption<KeyMaterialError>,
}

impl std::fmt::Debug for KeyMaterialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bytes: they may be a secret.
        f.debug_struct("KeyMaterialSource")
            .field("name", &self.name)
            .field("age", &self.age())
            .field("last_error", &self.last_error().map(|err| err.code()))
            .finish_non_exhaustive()
    }
}

impl KeyMaterialSource {
    /// An entry whose bytes are known now and never go stale (a `file`
    /// entry read at load; reload builds a new one).
    pub fn fixed(name: impl Into<String>, bytes: Vec<u8>) -> Self {
        let good = Good { bytes: Arc::from(bytes), fetched_at: Instant::now() };
        Self { name: name.into(), origin: Origin::Fixed, good: ArcSwapOption::from_pointee(good), last_error: ArcSwapOption::empty() }
    }

    /// A `url` entry with nothing fetched yet: [`KeyMaterialSource::current`]
    /// is [`KeyMaterialUnavailable::NeverFetched`] until a refresh succeeds.
    pub fn url(name: impl Into<String>, source: UrlSource, fetcher: Arc<Fetcher>) -> Result<Self, KeyMaterialError> {
        source.validate(fetcher.policy())?;
        let max_stale = source.max_stale();
        Ok(Self { name: name.into(), origin: Origin::Url { source, fetcher, max_stale }, good: ArcSwapOption::empty(), last_error: ArcSwapOption::empty() })
    }

    /// The entry's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last good bytes, for the per-request path: one atomic load, one
    /// reference-count increment, no I/O, never blocks.
    pub fn current(&self) -> Result<Arc<[u8]>, KeyMaterialUnavailable> {
        self.current_at(Instant::now())
    }

    fn current_at(&self, now: Instant) -> Result<Arc<[u8]>, KeyMaterialUnavailable> {
        let guard = self.good.load();
        let good = guard.as_ref().ok_or(KeyMaterialUnavailable::NeverFetched)?;
        if let Origin::Url { max_stale, .. } = &self.origin
            && now.saturating_duration_since(good.fetched_at) > *max_stale
        {
            return Err(KeyMaterialUnavailable::Stale);
        }
        Ok(Arc::clone(&good.bytes))
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

    /// Fetches once and, on success, replaces the cached copy. On failure the
    /// last good copy stays and the error is kept for
    /// [`KeyMaterialSource::last_error`]. Fixed bytes: nothing to do.
    pub async fn refresh(&self) -> Result<(), KeyMaterialError> {
        let Origin::Url { source, fetcher, .. } = &self.origin else {
            return Ok(());
        };
        match fetcher.fetch(source).await {
            Ok(bytes) => {
                self.good.store(Some(Arc::new(Good { bytes: Arc::from(bytes), fetched_at: Instant::now() })));
                self.last_error.store(None);
                Ok(())
            }
            Err(err) => {
                self.last_error.store(Some(Arc::new(err.clone())));
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
            Origin::Url { .. } => Some(runtime.spawn(refresh_loop(Arc::downgrade(self)))),
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

async fn refresh_loop(source: Weak<KeyMaterialSource>) {
    let mut failures: u32 = 0;
    loop {
        // No strong reference across the sleep, so dropping the source ends
        // the task at its next wake-up.
        let Some(delay) = source.upgrade().map(|s| s.next_delay(failures)) else {
            return;
        };
        tokio::time::sleep(delay).await;
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
        source.good.store(Some(Arc::new(Good { bytes: Arc::from(bytes), fetched_at: at })));
    }

    #[test]
    fn unavailable_before_the_first_success() {
        let source = url_source(Duration::from_secs(3600));
        assert_eq!(source.current(), Err(KeyMaterialUnavailable::NeverFetched));
        assert_eq!(source.age(), None);
    }

    #[test]
    fn served_until_max_staleness_then_stale() {
        let max = Duration::from_secs(3600);
        let source = url_source(max);
        let t0 = Instant::now();
        store(&source, b"keys", t0);
        assert_eq!(&*source.current_at(t0).unwrap(), b"keys");
        assert_eq!(&*source.current_at(t0 + max).unwrap(), b"keys");
        assert_eq!(source.current_at(t0 + max + Duration::from_millis(1)), Err(KeyMaterialUnavailable::Stale));
        // A clock that went backwards is not staleness.
        assert!(source.current_at(t0.checked_sub(Duration::from_secs(1)).unwrap_or(t0)).is_ok());
    }

    #[test]
    fn fixed_bytes_never_go_stale() {
        let source = KeyMaterialSource::fixed("k", b"v".to_vec());
        let far = Instant::now() + Duration::from_secs(10 * 365 * 86400);
        assert_eq!(&*source.current_at(far).unwrap(), b"v");
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
    }
}
