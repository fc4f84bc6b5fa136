//! Reloads that cannot block one another, and revocations that wait for none.
//!
//! A full reload (read the next plan from the source: for `ward serve` the
//! config and every file it names; verify, compile, conformance-test) runs
//! on a thread of its own, and its caller waits at most
//! the reload deadline. Past it the reload is abandoned: the caller records
//! `config.reload.refused` (`reload-timeout`), the old set keeps serving, the
//! next reload may start, and whatever the abandoned one finishes later is
//! thrown away. A slow compile, a stalled key-material server or a file
//! system that hangs can cost one deadline, never every later reload.
//!
//! Revocations have a fast path, [`Serving::revoke`]: it reads only the
//! source's trust policy (the config's `trust` section) and stops every
//! serving plugin it revokes at once, whatever reload is running.
//!
//! Every read of the source takes a ticket before it starts. A reload whose
//! read is older than one already applied (a fast path's, typically) swaps its
//! set in only if its own revocations cover the newer ones; otherwise it is
//! refused as `reload-superseded`; so is one that would keep a plugin the
//! fast path stopped after the reload began. A slow reload of an older config
//! can thus never bring back a plugin a newer revocation stopped.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::audit::{AuditLog, Code, Event, UnloadCause};
use crate::sandbox::Runtime;
use crate::trust::TrustPolicy;

use super::assemble::{KeyFetching, NextSet, assemble};
use super::error::LifecycleError;
use super::plan::{Plan, PlanSource};
use super::restart::RestartOnly;
use super::set::{Entry, PluginSet, Slot};
use super::unrecorded::Unrecorded;
use crate::trust::now_ms;

/// How long a reload may take unless the embedder says otherwise
/// ([`crate::lifecycle::Gateway::with_reload_deadline`], `ward serve --reload-timeout`).
/// Loading a plugin takes tens of milliseconds; a minute leaves room for many
/// plugins and for key material behind a slow server.
pub const DEFAULT_RELOAD_DEADLINE: Duration = Duration::from_secs(60);

/// Abandoned reloads that may still be running before the next reload is
/// refused (`reload-busy`): each holds a thread and whatever it compiled, so a
/// config that hangs every time cannot pile them up without bound, while an
/// operator still gets several tries at fixing it.
const MAX_ABANDONED: usize = 4;

/// What serves now, and everything that changes it.
pub(crate) struct Serving {
    pub audit: AuditLog,
    pub current: ArcSwap<PluginSet>,
    /// Breaker and revocation records the audit log refused.
    pub unrecorded: Unrecorded,
    pub reloads_applied: AtomicU64,
    pub reloads_refused: AtomicU64,
    /// The newest read of the source applied; held while a set is swapped in.
    applied: Mutex<Applied>,
    tickets: AtomicU64,
    /// Reloads abandoned at their deadline whose thread has not ended yet.
    abandoned: AtomicUsize,
}

#[derive(Default)]
struct Applied {
    ticket: u64,
    revoked: Revocations,
}

/// The revocation lists of one read of the source.
#[derive(Default, Clone, PartialEq, Eq)]
struct Revocations {
    signer_key_ids: BTreeSet<String>,
    /// Lowercase hex.
    entry_sha256: BTreeSet<String>,
}

impl Revocations {
    fn of(policy: &TrustPolicy) -> Self {
        Self {
            signer_key_ids: policy.revoked_signer_key_ids.clone(),
            entry_sha256: policy.revoked_entry_sha256.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    /// Whether everything `newer` revokes is revoked here too.
    fn covers(&self, newer: &Self) -> bool {
        newer.signer_key_ids.is_subset(&self.signer_key_ids) && newer.entry_sha256.is_subset(&self.entry_sha256)
    }
}

/// Where a reload's plan comes from.
pub(crate) enum Next {
    /// Read from the source on the reload's thread, within its deadline.
    Read(Arc<dyn PlanSource>),
    /// Already built by the caller.
    Given(Box<Plan>),
}

/// What one reload needs, owned: its thread may outlive its caller's wait.
pub(crate) struct Attempt {
    pub next: Next,
    pub runtime: Runtime,
    pub refresher: tokio::runtime::Handle,
    /// What the plan must still hold, as at start.
    pub restart_only: RestartOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Finished,
    Abandoned,
}

impl Serving {
    pub fn new(audit: AuditLog, set: PluginSet) -> Self {
        Self {
            audit,
            current: ArcSwap::from_pointee(set),
            unrecorded: Unrecorded::default(),
            reloads_applied: AtomicU64::new(0),
            reloads_refused: AtomicU64::new(0),
            applied: Mutex::new(Applied::default()),
            tickets: AtomicU64::new(0),
            abandoned: AtomicUsize::new(0),
        }
    }

    /// Takes the ticket of a config read; take it before the read starts.
    pub fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::SeqCst).saturating_add(1)
    }

    /// Runs `attempt` on a thread of its own and waits for it at most
    /// `deadline`. Does not record a refusal; the caller does.
    pub fn reload(self: &Arc<Self>, attempt: Attempt, deadline: Duration) -> Result<(), LifecycleError> {
        let running = self.abandoned.load(Ordering::Acquire);
        if running >= MAX_ABANDONED {
            return Err(LifecycleError::ReloadBusy { running });
        }
        // Before the read: a plan from the source is read on the thread; a
        // given one counts as read now.
        let ticket = self.ticket();
        let phase = Arc::new(Mutex::new(Phase::Running));
        let (done, outcome) = sync_channel(1);
        let (serving, shared_phase) = (Arc::clone(self), Arc::clone(&phase));
        std::thread::Builder::new()
            .name("ward-reload".into())
            .spawn(move || {
                if let Some(result) = serving.attempt(attempt, ticket, &shared_phase) {
                    let _ = done.send(result);
                }
            })
            .map_err(LifecycleError::Thread)?;
        match outcome.recv_timeout(deadline) {
            Ok(result) => result,
            Err(RecvTimeoutError::Disconnected) => Err(LifecycleError::ReloadPanicked),
            Err(RecvTimeoutError::Timeout) => {
                let mut phase = lock(&phase);
                if *phase == Phase::Finished {
                    // It finished (or swapped its set in) just now: that result stands.
                    drop(phase);
                    return outcome.recv().unwrap_or(Err(LifecycleError::ReloadPanicked));
                }
                *phase = Phase::Abandoned;
                self.abandoned.fetch_add(1, Ordering::AcqRel);
                Err(LifecycleError::ReloadTimeout { after: deadline })
            }
        }
    }

    /// The reload's thread: builds the next set, then swaps it in unless the
    /// caller has given up on it meanwhile (then `None`: nobody is waiting).
    fn attempt(&self, attempt: Attempt, ticket: u64, phase: &Mutex<Phase>) -> Option<Result<(), LifecycleError>> {
        let built = attempt.build(self);
        let mut phase = lock(phase);
        if *phase == Phase::Abandoned {
            self.abandoned.fetch_sub(1, Ordering::AcqRel);
            let code = built.as_ref().err().map_or("ok", LifecycleError::code);
            tracing::warn!(code, "a reload abandoned at its deadline has ended; its result is discarded");
            return None;
        }
        // Still under the phase lock: the caller's deadline either sees this
        // finished or finds it abandoned, never half swapped in.
        let result = built.and_then(|built| self.commit(ticket, built));
        *phase = Phase::Finished;
        Some(result)
    }

    /// Records what changes, then swaps the set in.
    fn commit(&self, ticket: u64, built: Built) -> Result<(), LifecycleError> {
        let Built { next, revoked, old } = built;
        let mut applied = lock(&self.applied);
        if ticket < applied.ticket && !revoked.covers(&applied.revoked) {
            return Err(LifecycleError::ReloadSuperseded);
        }
        if keeps_a_stopped_plugin(&old, &self.current.load(), &next.set) {
            // Only a fast path stops a plugin outside a commit, and it ran
            // after this reload read the set it builds on: swapping in would
            // bring the plugin back without a load record.
            return Err(LifecycleError::ReloadSuperseded);
        }
        // Durable before the swap: a plugin serves only after its
        // load.accepted is on disk, and stops only with its unload recorded.
        for event in next.events {
            self.audit.lifecycle(event)?;
        }
        self.audit.lifecycle(Event::ReloadApplied { reason: Code::new("reload")? })?;
        self.current.store(Arc::new(next.set));
        if ticket > applied.ticket {
            *applied = Applied { ticket, revoked: revoked.clone() };
        }
        self.reloads_applied.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The fast path: stops, at once, every serving plugin whose signer or
    /// entry digest `policy` revokes, each `plugin.unloaded` (`revoked`)
    /// recorded first. `ticket` must have been taken before `policy` was read.
    /// Returns how many plugins it stopped.
    pub fn revoke(&self, ticket: u64, policy: &TrustPolicy) -> usize {
        let mut applied = lock(&self.applied);
        if ticket < applied.ticket {
            // A newer read of the config is applied already.
            return 0;
        }
        *applied = Applied { ticket, revoked: Revocations::of(policy) };
        let current = self.current.load();
        let mut stopped = 0;
        let entries = current
            .entries
            .iter()
            .map(|entry| match &entry.slot {
                Slot::Active(active) if policy.revokes_signer(active.plugin.signer_key_id()) || policy.revokes_entry(active.plugin.entry_sha256()) => {
                    self.record_revocation(entry);
                    stopped += 1;
                    Entry { slot: Slot::Revoked, ..entry.clone() }
                }
                _ => entry.clone(),
            })
            .collect();
        if stopped > 0 {
            self.current.store(Arc::new(PluginSet { entries, routing: current.routing.clone() }));
        }
        stopped
    }

    /// Stopping a revoked plugin is the safe side: it is not held back when
    /// the audit log refuses the record, which is logged and counted instead.
    fn record_revocation(&self, entry: &Entry) {
        let event = Event::Unloaded { plugin_id: entry.audit_id.clone(), cause: UnloadCause::Revoked };
        let name = event.name();
        match self.audit.lifecycle(event) {
            Ok(_) => tracing::warn!(plugin = &*entry.id, "revoked: the plugin stops now, before the reload"),
            Err(err) => {
                self.unrecorded.count(&entry.audit_id, name);
                tracing::error!(plugin = &*entry.id, event = name, code = err.code(), "revocation could not be audited; the plugin stops anyway (fail closed)");
            }
        }
    }
}

/// A next set, ready to swap in.
struct Built {
    next: NextSet,
    /// Its config's revocation lists.
    revoked: Revocations,
    /// The set it was built against.
    old: Arc<PluginSet>,
}

/// Whether `next` keeps, as the very same compiled plugin it had in `old`, a
/// plugin that `now` has revoked.
fn keeps_a_stopped_plugin(old: &PluginSet, now: &PluginSet, next: &PluginSet) -> bool {
    next.entries.iter().any(|entry| {
        let Slot::Active(kept) = &entry.slot else { return false };
        let was_kept = old.active(&entry.id).is_some_and(|was| Arc::ptr_eq(was, kept));
        let stopped = now.entries.iter().any(|e| e.id == entry.id && matches!(e.slot, Slot::Revoked));
        was_kept && stopped
    })
}

impl Attempt {
    /// Reads the plan (if it has to) and assembles the next set against
    /// the one serving now.
    fn build(self, serving: &Serving) -> Result<Built, LifecycleError> {
        let plan = match self.next {
            Next::Read(source) => source.plan()?,
            Next::Given(plan) => *plan,
        };
        if RestartOnly::of(&plan) != self.restart_only {
            return Err(LifecycleError::RestartRequired { what: "the identity or audit section, or compileCache" });
        }
        let old = serving.current.load_full();
        let keys = KeyFetching { refresher: Some(&self.refresher) };
        let next = assemble(&self.runtime, &plan, &old, Some(&serving.audit), now_ms(), &keys)?;
        Ok(Built { next, revoked: Revocations::of(&plan.trust), old })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every value behind these locks is valid at every point a panic could
    // leave it; a poisoned lock still guards a consistent value.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(signers: &[&str], entries: &[&str]) -> Revocations {
        Revocations { signer_key_ids: signers.iter().map(|s| (*s).to_owned()).collect(), entry_sha256: entries.iter().map(|s| (*s).to_owned()).collect() }
    }

    #[test]
    fn a_reload_covers_newer_revocations_only_if_it_revokes_all_of_them() {
        let newer = lists(&["k1"], &["aa"]);
        assert!(lists(&["k1", "k2"], &["aa"]).covers(&newer));
        assert!(newer.covers(&newer));
        assert!(!lists(&["k2"], &["aa"]).covers(&newer));
        assert!(!lists(&["k1"], &[]).covers(&newer));
        assert!(lists(&[], &[]).covers(&Revocations::default()));
        let upper = TrustPolicy { revoked_entry_sha256: ["AA".to_owned()].into(), ..TrustPolicy::default() };
        assert!(Revocations::of(&upper).covers(&lists(&[], &["aa"])));
    }
}
