//! A per-plugin circuit breaker: a plugin that keeps trapping or timing out
//! stops being called for a while, so one broken plugin cannot burn the
//! CPU budget of every request that reaches it.
//!
//! Closed → (N faults within the window) → Open → (cool-down) → HalfOpen,
//! where exactly one probe call runs: a fault opens again, anything else
//! closes. A plain deny (bad token) is not a fault. The closed, fault-free
//! path reads one atomic and takes no lock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::audit::BreakerState;

/// The operator's breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Faults (traps, timeouts, fuel or memory exhaustion) that open the breaker…
    pub failures: u32,
    /// …when they fall within this window.
    pub window: Duration,
    /// How long it stays open before one probe call is let through.
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self { failures: 5, window: Duration::from_secs(30), cooldown: Duration::from_secs(10) }
    }
}

/// What a caller may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Call the plugin.
    Call,
    /// Call the plugin as the half-open probe; report the outcome.
    Probe,
    /// Do not call: deny with `plugin-unavailable`.
    Refuse,
}

/// A state change worth an audit record, with its cause code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub to: BreakerState,
    /// Why: `faults`, `cooldown-elapsed`, `probe-failed` or `probe-succeeded`.
    pub cause: &'static str,
}

impl Transition {
    /// Whether it lets calls reach the plugin again (half-open, closed).
    ///
    /// The rule for a transition whose record cannot be written: one that
    /// lets calls through does not happen ([`Breaker::reopen`]); opening stops
    /// calls, which is the safe side, so it happens anyway (fail closed).
    pub fn admits_calls(&self) -> bool {
        self.to != BreakerState::Opened
    }
}

#[derive(Debug)]
enum State {
    Closed { faults: VecDeque<Instant> },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// One plugin's breaker. Shared by every call of that plugin.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    // Mirrors `state != Closed` so the common path needs no lock.
    tripped: AtomicBool,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self { settings, tripped: AtomicBool::new(false), state: Mutex::new(State::Closed { faults: VecDeque::new() }) }
    }

    /// Decides whether a call may run.
    pub fn admit(&self, now: Instant) -> (Admission, Option<Transition>) {
        if !self.tripped.load(Ordering::Acquire) {
            return (Admission::Call, None);
        }
        let mut state = self.lock();
        match &mut *state {
            State::Closed { .. } => (Admission::Call, None),
            State::Open { until } if now < *until => (Admission::Refuse, None),
            State::Open { .. } => {
                *state = State::HalfOpen { probing: true };
                (Admission::Probe, Some(Transition { to: BreakerState::HalfOpen, cause: "cooldown-elapsed" }))
            }
            State::HalfOpen { probing: true } => (Admission::Refuse, None),
            State::HalfOpen { probing } => {
                *probing = true;
                (Admission::Probe, None)
            }
        }
    }

    /// Records how an admitted call ended.
    pub fn record(&self, admission: Admission, fault: bool, now: Instant) -> Option<Transition> {
        match admission {
            Admission::Refuse => None,
            Admission::Call if !fault => None,
            Admission::Call => self.count_fault(now),
            Admission::Probe => {
                let mut state = self.lock();
                if fault {
                    *state = State::Open { until: now + self.settings.cooldown };
                    Some(Transition { to: BreakerState::Opened, cause: "probe-failed" })
                } else {
                    *state = State::Closed { faults: VecDeque::new() };
                    self.tripped.store(false, Ordering::Release);
                    Some(Transition { to: BreakerState::Closed, cause: "probe-succeeded" })
                }
            }
        }
    }

    /// Undoes a transition that [admits calls](Transition::admits_calls) but
    /// could not be recorded: open again for a whole cool-down. Calls keep
    /// being refused, and the next half-open (with its record) is tried one
    /// cool-down later, not at request rate.
    pub fn reopen(&self, now: Instant) {
        let mut state = self.lock();
        *state = State::Open { until: now + self.settings.cooldown };
        self.tripped.store(true, Ordering::Release);
    }

    /// True unless closed (for `/metrics`).
    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Acquire)
    }

    fn count_fault(&self, now: Instant) -> Option<Transition> {
        let mut state = self.lock();
        // Calls admitted before the breaker opened may still report; they
        // change nothing once it is open.
        let State::Closed { faults } = &mut *state else {
            return None;
        };
        while faults.front().is_some_and(|t| now.saturating_duration_since(*t) > self.settings.window) {
            faults.pop_front();
        }
        faults.push_back(now);
        if faults.len() < self.settings.failures.max(1) as usize {
            return None;
        }
        *state = State::Open { until: now + self.settings.cooldown };
        self.tripped.store(true, Ordering::Release);
        Some(Transition { to: BreakerState::Opened, cause: "faults" })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another call panicked mid-update; the
        // state itself is always a valid enum value, so keep using it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings { failures: 3, window: 100 * MS, cooldown: 50 * MS })
    }

    #[test]
    fn opens_after_n_faults_in_the_window_only() {
        let b = breaker();
        let t0 = Instant::now();
        assert_eq!(b.record(Admission::Call, true, t0), None);
        assert_eq!(b.record(Admission::Call, true, t0 + 60 * MS), None);
        // The first fault has left the window: still two, still closed.
        assert_eq!(b.record(Admission::Call, true, t0 + 150 * MS), None);
        assert_eq!(b.admit(t0 + 150 * MS).0, Admission::Call);
        let opened = b.record(Admission::Call, true, t0 + 155 * MS);
        assert_eq!(opened, Some(Transition { to: BreakerState::Opened, cause: "faults" }));
        assert_eq!(b.admit(t0 + 170 * MS).0, Admission::Refuse);
        // Plain denies never count.
        let c = breaker();
        for i in 0..10 {
            assert_eq!(c.record(Admission::Call, false, t0 + i * MS), None);
        }
        assert!(!c.is_tripped());
    }

    #[test]
    fn one_probe_after_cooldown_then_closed_or_open_again() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            let _ = b.record(Admission::Call, true, t0);
        }
        assert_eq!(b.admit(t0 + 49 * MS).0, Admission::Refuse);
        let (probe, half) = b.admit(t0 + 51 * MS);
        assert_eq!((probe, half.map(|t| t.to)), (Admission::Probe, Some(BreakerState::HalfOpen)));
        // Only one probe at a time.
        assert_eq!(b.admit(t0 + 52 * MS).0, Admission::Refuse);
        let reopened = b.record(Admission::Probe, true, t0 + 53 * MS);
        assert_eq!(reopened.map(|t| t.cause), Some("probe-failed"));
        assert_eq!(b.admit(t0 + 60 * MS).0, Admission::Refuse);
        let (probe, _) = b.admit(t0 + 104 * MS);
        assert_eq!(probe, Admission::Probe);
        let closed = b.record(Admission::Probe, false, t0 + 105 * MS);
        assert_eq!(closed.map(|t| t.to), Some(BreakerState::Closed));
        assert_eq!(b.admit(t0 + 106 * MS), (Admission::Call, None));
        assert!(!b.is_tripped());
    }

    #[test]
    fn a_reopened_breaker_waits_a_whole_cooldown_and_only_opening_needs_no_record() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            let _ = b.record(Admission::Call, true, t0);
        }
        // The half-open could not be recorded: back to open, no probe runs.
        let (probe, half) = b.admit(t0 + 51 * MS);
        assert_eq!(probe, Admission::Probe);
        assert!(half.is_some_and(|t| t.admits_calls()));
        b.reopen(t0 + 51 * MS);
        assert_eq!(b.admit(t0 + 100 * MS), (Admission::Refuse, None));
        let (probe, half) = b.admit(t0 + 102 * MS);
        assert_eq!((probe, half.map(|t| t.to)), (Admission::Probe, Some(BreakerState::HalfOpen)));
        // A close that could not be recorded: the same.
        let closed = b.record(Admission::Probe, false, t0 + 103 * MS);
        assert!(closed.is_some_and(|t| t.admits_calls()));
        b.reopen(t0 + 103 * MS);
        assert!(b.is_tripped());
        assert_eq!(b.admit(t0 + 104 * MS).0, Admission::Refuse);
        let opened = Transition { to: BreakerState::Opened, cause: "faults" };
        assert!(!opened.admits_calls());
    }
}
