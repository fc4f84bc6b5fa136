//! One call: a fresh store and instance, bounded by fuel, a wall-clock
//! deadline and the store limiter, then dropped. No state survives between
//! calls.
//!
//! Calls are async: at every epoch tick the guest yields to whoever polls the
//! call, so `ward serve` can run guests on its I/O threads and a guest that
//! spins to its deadline holds a thread for one tick at a time, never for
//! the whole deadline. `blocking.rs` runs the same future for callers that
//! are not async.

use std::time::{Duration, Instant};

use wasmtime::component::{ComponentExportIndex, Func, InstancePre};
use wasmtime::{Engine, Store, Trap, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::{WasiCtxView, WasiView};

use crate::identity::{ClaimsPolicy, SanitizedClaims};

use super::abi::{AuthenticateParams, AuthenticateResults, Credential, KeyMaterial, RequestContext};
use super::decision::{DenyReason, PluginDeny};
use super::keys::KeySet;
use super::limits::{GuestLimiter, Limits, MAX_RESULT_BYTES};
use super::output::{OutputError, read_claims};
use super::wasi::{DenyAllView, DenyAllWasi, MAX_RESOURCES};

/// What a store carries for one call.
pub(crate) struct CallState {
    limiter: GuestLimiter,
    now_ms: u64,
    /// When the call (instantiation included) must have ended.
    deadline: Instant,
    wasi: Option<DenyAllWasi>,
    /// The indexed key material this call may look up (`keys.rs`), as it
    /// was when the call started.
    key_sets: Vec<KeySet>,
}

impl CallState {
    pub(crate) fn key_sets(&self) -> &[KeySet] {
        &self.key_sets
    }

    /// A new deadline `timeout` from now, for the one store that outlives a
    /// call (`bench_support`'s baseline).
    #[cfg(feature = "bench-baseline")]
    pub(crate) fn rearm_deadline(&mut self, timeout: Duration) {
        self.deadline = deadline_after(timeout);
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.deny_all().view()
    }
}

impl DenyAllView for CallState {
    fn deny_all(&mut self) -> &mut DenyAllWasi {
        // Built on first use so plugins that import nothing never pay for it.
        let now_ms = self.now_ms;
        self.wasi.get_or_insert_with(|| DenyAllWasi::new(now_ms))
    }
}

/// Everything a call needs from its plugin, borrowed.
pub(crate) struct CallSpec<'a> {
    pub engine: &'a Engine,
    pub pre: &'a InstancePre<CallState>,
    pub func: &'a ComponentExportIndex,
    pub limits: &'a Limits,
    pub settings: &'a [(String, String)],
    pub keys: &'a [(String, Vec<u8>)],
    /// Key material fetched by the host (URL entries), current at call time.
    pub fetched_keys: &'a [(&'a str, &'a [u8])],
    /// Indexed key material, current at call time.
    pub key_sets: &'a [KeySet],
    pub claims_policy: &'a ClaimsPolicy,
}

/// A store with every limit armed. Instantiation runs under the same fuel and
/// deadline as the call, so a start function cannot escape them.
///
/// The deadline is checked at each epoch tick: past it the guest traps
/// (`timeout`), before it the guest yields and runs on for another tick.
/// Comparing with the wall clock, rather than counting ticks, keeps the
/// deadline exact however long the call waited to be polled again.
pub(crate) fn armed_store(engine: &Engine, limits: &Limits, now_ms: u64, key_sets: &[KeySet]) -> Result<Store<CallState>, DenyReason> {
    let deadline = deadline_after(limits.timeout);
    let state = CallState { limiter: GuestLimiter::new(limits), now_ms, deadline, wasi: None, key_sets: key_sets.to_vec() };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_fuel(limits.fuel).map_err(|_| DenyReason::Trap)?;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|store| {
        if Instant::now() >= store.data().deadline {
            return Ok(UpdateDeadline::Interrupt);
        }
        // tokio's yield, not wasmtime's plain one: a task that wakes itself
        // can be polled again before the other ready tasks (tokio's LIFO
        // slot), while `yield_now` defers it until they and the I/O driver
        // have run. Outside a runtime it wakes at once. Measured by
        // `tests/all/serve_isolation.rs` (six guests spinning on two I/O
        // threads): a healthy request waited up to 203 ms with the plain
        // yield, 1.16 s with none, under 150 ms (the bound) with this one.
        Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now())))
    });
    store.set_hostcall_fuel(MAX_RESULT_BYTES);
    // Handles to host resources cost host memory the memory limit does not see.
    store.set_max_component_handles(MAX_RESOURCES);
    Ok(store)
}

/// `timeout` from now. A timeout the clock cannot represent (limits are
/// validated far below that) is no time at all: fail closed.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or(now)
}

/// Runs `authenticate` once in a fresh instance. `Ok(Err(_))` is the plugin's own refusal.
pub(crate) async fn call_once(spec: &CallSpec<'_>, scheme: &str, token: &str, now_ms: u64) -> Result<Result<SanitizedClaims, PluginDeny>, DenyReason> {
    let mut store = armed_store(spec.engine, spec.limits, now_ms, spec.key_sets)?;
    let func = instantiate(spec, &mut store).await?;
    invoke(spec, &mut store, &func, scheme, token, now_ms).await
}

/// Instantiates the plugin in `store` and finds `authenticate`. The function
/// is typed per call (in `invoke`) because its parameters borrow call data.
pub(crate) async fn instantiate(spec: &CallSpec<'_>, store: &mut Store<CallState>) -> Result<Func, DenyReason> {
    let instance = spec.pre.instantiate_async(&mut *store).await.map_err(|err| classify(&err, store))?;
    instance.get_func(&mut *store, spec.func).ok_or(DenyReason::Trap)
}

/// Calls `authenticate` on an instance and reads the claims under the sanitizer.
pub(crate) async fn invoke(
    spec: &CallSpec<'_>,
    store: &mut Store<CallState>,
    func: &Func,
    scheme: &str,
    token: &str,
    now_ms: u64,
) -> Result<Result<SanitizedClaims, PluginDeny>, DenyReason> {
    let fixed = spec.keys.iter().map(|(name, data)| KeyMaterial { name, data });
    let fetched = spec.fetched_keys.iter().map(|(name, data)| KeyMaterial { name, data });
    let keys: Vec<KeyMaterial<'_>> = fixed.chain(fetched).collect();
    let params = (Credential { scheme, token }, RequestContext { now_ms, settings: spec.settings, keys: &keys });
    let typed = func.typed::<AuthenticateParams<'_>, AuthenticateResults>(&*store).map_err(|err| classify(&err, store))?;
    let (result,) = typed.call_async(&mut *store, params).await.map_err(|err| classify(&err, store))?;
    match result {
        Err(deny) => Ok(Err(deny.into())),
        Ok(raw) => match read_claims(&raw, spec.claims_policy) {
            Ok(claims) => Ok(Ok(claims)),
            Err(OutputError::Invalid(rule)) => {
                // The rule names a field and a cap, never claim content.
                tracing::debug!(%rule, "plugin claims rejected");
                Err(DenyReason::InvalidClaims)
            }
        },
    }
}

/// Maps a wasmtime error to a host deny reason. A refused memory or table
/// growth anywhere in the call outranks the trap it provoked.
pub(crate) fn classify(err: &wasmtime::Error, store: &Store<CallState>) -> DenyReason {
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => DenyReason::FuelExhausted,
        Some(Trap::Interrupt) => DenyReason::Timeout,
        Some(Trap::StackOverflow) => DenyReason::StackOverflow,
        _ if store.data().limiter.hit_limit => DenyReason::MemoryLimit,
        _ if is_oversized_result(err) => DenyReason::InvalidClaims,
        _ => DenyReason::Trap,
    }
}

/// wasmtime's hostcall-fuel error is a private type, so it is recognised by
/// its message. The same budget bounds the arguments a guest passes to a
/// host import (`ward:auth/crypto`); that failure happens while the guest is
/// on the stack, so it carries wasm frames, while lifting the result happens
/// after the guest returned and carries none. Pinned against each wasmtime
/// upgrade by `tests/all/sandbox_wat.rs` (a forged 10 MiB subject stays
/// `invalid-claims`) and `tests/all/host_crypto.rs` (oversized import
/// arguments are a `trap`).
fn is_oversized_result(err: &wasmtime::Error) -> bool {
    let exhausted = err.chain().any(|cause| cause.to_string().contains("fuel allocated for hostcalls has been exhausted"));
    let in_guest = err.downcast_ref::<WasmBacktrace>().is_some_and(|trace| !trace.frames().is_empty());
    exhausted && !in_guest
}
