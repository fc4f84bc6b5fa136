//! The gateway: the plugin set that serves now, the audit log every
//! lifecycle step goes through, and atomic reloads (`reload.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::HeaderMap;

use tokio::runtime::RuntimeFlavor;

use crate::audit::{AuditError, AuditLog, Code, Enqueued, Event, IdentityId, TrapKind, WouldWait};
use crate::policy::Requirement;
use crate::sandbox::{CallKeys, Credential, Decision, DenyReason, MAX_TIMEOUT, Runtime, RuntimeConfig, run_to_completion};
use crate::server::{Deciding, Gate, GateDecision, GateStats};

use super::assemble::{KeyFetching, assemble};
use super::breaker::{Admission, Transition};
use super::error::LifecycleError;
use super::plan::{Plan, PlanSource};
use super::refresher::Refresher;
use super::reload::{Attempt, DEFAULT_RELOAD_DEADLINE, Next, Serving};
use super::restart::RestartOnly;
use super::routed;
use super::set::{Active, Entry, PluginSet, Slot};
use super::stats;
use crate::trust::now_ms;

/// How long [`Gateway::authenticate`] drives a decision on the caller's
/// thread before it gives up: a backstop past the longest timeout a plugin
/// may be given, as every call ends at its own deadline first.
const SYNC_DECISION_BOUND: Duration = MAX_TIMEOUT.saturating_add(Duration::from_secs(1));

/// Serves decisions from the current plugin set and swaps sets atomically.
/// `Send + Sync`; share it behind an `Arc`. Dropping it closes the audit log
/// once no reload abandoned at its deadline is still running.
pub struct Gateway {
    runtime: Runtime,
    /// The set, the audit log and the reload bookkeeping, shared with reload
    /// threads (which may outlive a wait for them).
    serving: Arc<Serving>,
    /// Where reloads read the next plan.
    source: Arc<dyn PlanSource>,
    /// What the plan started with that only a restart may change.
    restart_only: RestartOnly,
    /// One full reload at a time, each bounded by `reload_deadline`.
    reload_lock: Mutex<()>,
    reload_deadline: Duration,
    ready: AtomicBool,
    audit_dropped: AtomicU64,
    /// Runs the key-material refresh tasks.
    refresher: Refresher,
}

/// One plugin's state, for `ward check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStatus {
    /// The plan's id for it.
    pub id: String,
    /// `active`, `disabled` or `revoked`.
    pub state: &'static str,
    /// From the verified envelope, when active.
    pub version: Option<String>,
    /// The signer key id, when active.
    pub signer_key_id: Option<String>,
    /// sha256 of the component, when active.
    pub entry_sha256: Option<String>,
    /// Whether it imports WASI (served by the deny-all context), when active.
    pub imports_wasi: Option<bool>,
}

impl Gateway {
    /// Opens the audit log, builds the runtime and loads every plugin of
    /// `plan`. Any plugin failure (other than a revocation, which unloads
    /// it) stops the start: ward does not serve a partial set. Reloads read
    /// the next plan from `source`.
    pub fn start(plan: Plan, source: impl PlanSource + 'static) -> Result<Self, LifecycleError> {
        let audit = match &plan.audit.redis {
            Some(redis) => AuditLog::open_redis(&redis.target, &plan.audit.key, redis.replica.clone(), plan.audit.options.clone())?,
            None => AuditLog::open(&plan.audit.file, &plan.audit.key, plan.audit.options.clone())?,
        };
        let runtime_config = RuntimeConfig { claims: plan.claims.clone(), compile_cache: plan.compile_cache.clone(), ..RuntimeConfig::default() };
        let identity_key = plan.identity_key.clone();
        let runtime = Runtime::new(runtime_config, identity_key)?;
        let refresher = Refresher::new().map_err(|err| LifecycleError::Runtime(crate::sandbox::RuntimeError::Ticker(err)))?;
        let keys = KeyFetching { refresher: Some(refresher.handle()) };
        let next = assemble(&runtime, &plan, &PluginSet::empty(), Some(&audit), now_ms(), &keys)?;
        for event in next.events {
            audit.lifecycle(event)?;
        }
        Ok(Self {
            runtime,
            serving: Arc::new(Serving::new(audit, next.set)),
            source: Arc::new(source),
            restart_only: RestartOnly::of(&plan),
            reload_lock: Mutex::new(()),
            reload_deadline: DEFAULT_RELOAD_DEADLINE,
            ready: AtomicBool::new(true),
            audit_dropped: AtomicU64::new(0),
            refresher,
        })
    }

    /// How long a reload may take before it is abandoned (`reload-timeout`);
    /// default [`DEFAULT_RELOAD_DEADLINE`].
    #[must_use]
    pub fn with_reload_deadline(mut self, deadline: Duration) -> Self {
        self.reload_deadline = deadline;
        self
    }

    /// Everything `start` checks (signatures, compilation, probes, conformance)
    /// without opening the audit log or serving: `ward check`.
    pub fn check(plan: &Plan) -> Result<Vec<PluginStatus>, LifecycleError> {
        let runtime_config = RuntimeConfig { claims: plan.claims.clone(), compile_cache: plan.compile_cache.clone(), ..RuntimeConfig::default() };
        let runtime = Runtime::new(runtime_config, plan.identity_key.clone())?;
        let next = assemble(&runtime, plan, &PluginSet::empty(), None, now_ms(), &KeyFetching { refresher: None })?;
        Ok(statuses(&next.set))
    }

    /// Reads only the trust policy from the plan source (for `ward serve`,
    /// the `trust` section of its config file) and stops, at once, every
    /// serving plugin whose signer or entry digest it revokes
    /// (`plugin.unloaded`, `revoked`, recorded first; a record the log
    /// refuses does not hold the stop back). Waits for no reload. Returns
    /// how many plugins it stopped.
    pub fn revoke_from_source(&self) -> Result<usize, LifecycleError> {
        let ticket = self.serving.ticket();
        let policy = self.source.trust_policy()?;
        Ok(self.serving.revoke(ticket, &policy))
    }

    /// Applies the source's revocations at once ([`Gateway::revoke_from_source`]),
    /// then reads the whole next plan from it and applies that ([`Gateway::reload`]).
    pub fn reload_from_source(&self) -> Result<(), LifecycleError> {
        if let Err(err) = self.revoke_from_source() {
            // The full reload reads the same source and records the refusal.
            tracing::warn!(code = err.code(), "revocations could not be read; the full reload follows");
        }
        self.reload_next(Next::Read(Arc::clone(&self.source)))
    }

    /// Verifies, compiles and conformance-tests the whole new set, records
    /// what changes, then swaps it in at once. On any failure the old set
    /// keeps serving and `config.reload.refused` is recorded. Returns within
    /// the reload deadline: past it the reload is refused (`reload-timeout`)
    /// and whatever it finishes later is discarded. `plan` counts as read
    /// at the call.
    pub fn reload(&self, plan: Plan) -> Result<(), LifecycleError> {
        self.reload_next(Next::Given(Box::new(plan)))
    }

    fn reload_next(&self, next: Next) -> Result<(), LifecycleError> {
        let _one_at_a_time = self.reload_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let attempt = Attempt { next, runtime: self.runtime.clone(), refresher: self.refresher.handle().clone(), restart_only: self.restart_only.clone() };
        let outcome = self.serving.reload(attempt, self.reload_deadline);
        if let Err(err) = &outcome {
            self.refused(err);
        }
        outcome
    }

    fn refused(&self, err: &LifecycleError) {
        self.serving.reloads_refused.fetch_add(1, Ordering::Relaxed);
        if let Ok(reason) = Code::new(err.code()) {
            // If the log itself is what failed, there is nowhere to record
            // this; the error still reaches the caller.
            let _ = self.serving.audit.lifecycle(Event::ReloadRefused { reason });
        }
        tracing::warn!(code = err.code(), "reload refused; the previous plugin set keeps serving");
    }

    /// Decides one request from its headers at `now_ms`, on this thread
    /// (for callers that are not async: tests, tools).
    pub fn authenticate(&self, headers: &HeaderMap, now_ms: u64) -> GateDecision {
        run_to_completion(self.authenticate_async(headers, now_ms), SYNC_DECISION_BOUND).unwrap_or(GateDecision {
            plugin_id: None,
            challenge: None,
            decision: Decision::Deny(DenyReason::Timeout),
            assertion: None,
        })
    }

    /// Decides one request from its headers at `now_ms`. The guest yields at
    /// every epoch tick, and what may block (an audit write the breaker must
    /// wait for, a full audit queue) moves off the I/O thread first, so the
    /// future can be polled on `ward serve`'s I/O threads.
    pub async fn authenticate_async(&self, headers: &HeaderMap, now_ms: u64) -> GateDecision {
        let set = self.serving.current.load();
        let picked = match routed::pick(&set, headers) {
            Ok(picked) => picked,
            Err(refused) => return refused,
        };
        let mut decided = self.call(picked.entry, picked.token, now_ms, picked.rule.map(|rule| &rule.require)).await;
        if let Decision::Allow(identity) = &decided.decision {
            decided.assertion = routed::assertion(&set, &picked, identity, now_ms);
        }
        decided
    }

    /// Calls `entry`'s plugin with `token`, applies the route's `require` to
    /// an allow (a miss is `insufficient-scope`), and records the outcome.
    async fn call(&self, entry: &Entry, token: &str, now_ms: u64, require: Option<&Requirement>) -> GateDecision {
        let started = Instant::now();
        let decision = match &entry.slot {
            Slot::Disabled => Decision::Deny(DenyReason::PluginsDisabled),
            Slot::Revoked => Decision::Deny(DenyReason::PluginUnavailable),
            Slot::Active(active) => self.call_active(entry, active, token, now_ms, started).await,
        };
        let decision = match (decision, require) {
            (Decision::Allow(identity), Some(require)) if !require.admits(&identity) => Decision::Deny(DenyReason::InsufficientScope),
            (decision, _) => decision,
        };
        self.record(entry, &decision, started);
        GateDecision { plugin_id: Some(Arc::clone(&entry.id)), challenge: Some(Arc::from(entry.route.challenge())), decision, assertion: None }
    }

    async fn call_active(&self, entry: &Entry, active: &Active, token: &str, now_ms: u64, started: Instant) -> Decision {
        let (admission, half_open) = active.breaker.admit(started);
        if let Some(transition) = half_open
            && !self.transition(entry, transition)
        {
            // No probe runs unrecorded.
            active.breaker.reopen(Instant::now());
            return Decision::Deny(DenyReason::PluginUnavailable);
        }
        if admission == Admission::Refuse {
            return Decision::Deny(DenyReason::PluginUnavailable);
        }
        let credential = Credential { scheme: entry.route.guest_scheme(), token };
        let decision = match active.current_keys() {
            Ok(current) => {
                let raw = current.raw();
                let keys = CallKeys { raw: &raw, sets: current.sets() };
                active.plugin.call(credential, now_ms, active.plugin.settings(), &keys).await
            }
            // No guest code runs without its keys; not a fault of the plugin.
            Err(_) => Decision::Deny(DenyReason::KeyMaterialUnavailable),
        };
        let fault = matches!(&decision, Decision::Deny(reason) if reason.is_fault());
        if let Some(transition) = active.breaker.record(admission, fault, Instant::now())
            && !self.transition(entry, transition)
            && transition.admits_calls()
        {
            active.breaker.reopen(Instant::now());
        }
        decision
    }

    /// Records a breaker transition before it takes effect. `false` when the
    /// record could not be written, which is logged and counted; the caller
    /// then follows [`Transition::admits_calls`]'s rule.
    fn transition(&self, entry: &Entry, transition: Transition) -> bool {
        let event = match Code::new(transition.cause) {
            Ok(cause) => Event::Breaker { state: transition.to, plugin_id: entry.audit_id.clone(), cause },
            Err(err) => return self.unrecorded_transition(entry, transition, "plugin.breaker", &err),
        };
        let name = event.name();
        match off_io_thread(|| self.serving.audit.lifecycle(event)) {
            Ok(_) => {
                tracing::warn!(plugin = &*entry.id, event = name, cause = transition.cause, "circuit breaker");
                true
            }
            Err(err) => self.unrecorded_transition(entry, transition, name, &err),
        }
    }

    /// Logs and counts a transition the audit log refused; always `false`.
    fn unrecorded_transition(&self, entry: &Entry, transition: Transition, event: &'static str, err: &AuditError) -> bool {
        self.serving.unrecorded.count(&entry.audit_id, event);
        let outcome = if transition.admits_calls() {
            "so it does not happen: the breaker stays open"
        } else {
            "the breaker opens anyway and the plugin denies (fail closed)"
        };
        tracing::error!(plugin = &*entry.id, event, cause = transition.cause, code = err.code(), "circuit breaker transition could not be audited; {outcome}");
        false
    }

    /// Per-request records: never the credential, never claims; the identity
    /// id only (and only when the operator asked for allows).
    fn record(&self, entry: &Entry, decision: &Decision, started: Instant) {
        let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let plugin_id = entry.audit_id.clone();
        let mut events = Vec::with_capacity(2);
        match decision {
            Decision::Allow(identity) => {
                if let Ok(identity_id) = IdentityId::new(&identity.id) {
                    events.push(Event::AuthenticateAllow { plugin_id, identity_id, duration_us });
                }
            }
            Decision::Deny(reason) => {
                if let Some(kind) = trap_kind(*reason) {
                    events.push(Event::Trap { plugin_id: plugin_id.clone(), kind });
                }
                if let Ok(reason) = Code::new(reason.code()) {
                    events.push(Event::AuthenticateDeny { plugin_id, reason, duration_us });
                }
            }
        }
        for event in events {
            let enqueued = match self.serving.audit.try_request(event) {
                Ok(enqueued) => enqueued,
                Err(WouldWait(event)) => off_io_thread(|| self.serving.audit.request(*event)),
            };
            if enqueued == Enqueued::Dropped {
                self.audit_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Each configured plugin and its state.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        statuses(&self.serving.current.load())
    }

    /// Writes queued audit events and syncs the log.
    pub fn flush_audit(&self) -> Result<u64, LifecycleError> {
        Ok(self.serving.audit.flush()?)
    }
}

fn statuses(set: &PluginSet) -> Vec<PluginStatus> {
    set.entries
        .iter()
        .map(|entry| {
            let state = entry.slot.state();
            let active = match &entry.slot {
                Slot::Active(active) => Some(&active.plugin),
                Slot::Disabled | Slot::Revoked => None,
            };
            PluginStatus {
                id: entry.id.to_string(),
                state,
                version: active.map(|p| p.version().to_owned()),
                signer_key_id: active.map(|p| p.signer_key_id().to_owned()),
                entry_sha256: active.map(|p| p.entry_sha256().to_owned()),
                imports_wasi: active.map(|p| p.imports_wasi()),
            }
        })
        .collect()
}

/// Runs `work`, which may block (an `fdatasync`, a full audit queue), without
/// stalling the async I/O thread it may be called on: tokio first hands that
/// thread's other tasks to another thread. Elsewhere it simply runs.
fn off_io_thread<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
}

fn trap_kind(reason: DenyReason) -> Option<TrapKind> {
    Some(match reason {
        DenyReason::Timeout => TrapKind::Timeout,
        DenyReason::FuelExhausted => TrapKind::FuelExhausted,
        DenyReason::MemoryLimit => TrapKind::MemoryLimit,
        DenyReason::StackOverflow => TrapKind::StackOverflow,
        DenyReason::Trap => TrapKind::Trap,
        _ => return None,
    })
}

impl Gate for Gateway {
    fn decide<'a>(&'a self, headers: &'a HeaderMap) -> Deciding<'a> {
        Box::pin(self.authenticate_async(headers, now_ms()))
    }

    fn is_ready(&self) -> bool {
        // A log that refuses every append (a store head that does not
        // verify or went back) cannot record what ward decides.
        self.ready.load(Ordering::Acquire) && self.serving.audit.is_healthy()
    }

    fn reload(&self) -> Result<(), &'static str> {
        self.reload_from_source().map_err(|err| err.code())
    }

    fn revoke(&self) -> Result<usize, &'static str> {
        self.revoke_from_source().map_err(|err| err.code())
    }

    fn stats(&self) -> GateStats {
        stats::stats(&self.serving, self.audit_dropped.load(Ordering::Relaxed))
    }

    fn jwks(&self) -> Option<Arc<[u8]>> {
        self.serving.current.load().routing.signer.as_ref().map(|signer| Arc::clone(signer.jwks()))
    }

    fn shutdown(&self) {
        self.ready.store(false, Ordering::Release);
        if let Err(err) = self.serving.audit.flush() {
            tracing::error!(code = err.code(), "audit flush at shutdown failed");
        }
    }
}
