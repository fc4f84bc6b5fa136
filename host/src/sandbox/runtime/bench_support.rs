//! `ward-bench`'s baseline: one instance kept across calls, to show what a
//! fresh instance per call costs. It breaks the sandbox's guarantee that
//! every call gets a new store and instance (state would carry from one
//! credential to the next), so it exists only with the non-default
//! `bench-baseline` feature, which only the bench crate (`bench/`) enables.
//! Not part of the supported API; never enable it in a build that serves.

use wasmtime::Store;
use wasmtime::component::Func;

use super::{CallState, Credential, Decision, DenyReason, Plugin, armed_store, blocking_bound};
use crate::sandbox::blocking::run_to_completion;
use crate::sandbox::call::{instantiate, invoke};

/// One instance kept across calls: the unsafe baseline that shows what a
/// fresh instance per call costs. Same sanitizer and HMAC as production.
pub struct ReusedInstance {
    plugin: Plugin,
    store: Store<CallState>,
    func: Func,
}

impl ReusedInstance {
    /// Instantiates `plugin` once.
    pub fn new(plugin: &Plugin) -> Result<Self, DenyReason> {
        let inner = &*plugin.inner;
        let mut store = armed_store(&inner.engine, &inner.limits, 0, &inner.key_sets)?;
        let func = run_to_completion(instantiate(&plugin.spec(), &mut store), blocking_bound(&inner.limits)).ok_or(DenyReason::Timeout)??;
        Ok(Self { plugin: plugin.clone(), store, func })
    }

    /// Calls `authenticate` on the kept instance, refilling fuel and deadline.
    pub fn authenticate(&mut self, credential: Credential<'_>, now_ms: u64) -> Decision {
        let inner = &*self.plugin.inner;
        if self.store.set_fuel(inner.limits.fuel).is_err() {
            return Decision::Deny(DenyReason::Trap);
        }
        self.store.data_mut().rearm_deadline(inner.limits.timeout);
        let spec = self.plugin.spec();
        let call = invoke(&spec, &mut self.store, &self.func, credential.scheme, credential.token, now_ms);
        inner.decision(run_to_completion(call, blocking_bound(&inner.limits)).unwrap_or(Err(DenyReason::Timeout)))
    }
}
