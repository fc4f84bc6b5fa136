//! The one wasmtime `Engine` a runtime shares, and the epoch ticker that
//! gives every call a wall-clock deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};

/// Address space reserved per memory slot in [`BoundsChecks::GuardRegions`]:
/// every address a 32-bit memory can name.
const GUARDED_RESERVATION: u64 = 1 << 32;
/// Unmapped bytes after each slot, for constant offsets past 4 GiB.
const GUARD_BYTES: u64 = 32 << 20;
/// Stack a call's fibre keeps for host code beyond the wasm stack limit:
/// instantiation, the canonical ABI, and host functions such as RSA
/// verification run on the fibre too.
const FIBRE_HOST_STACK: usize = 1 << 20;

/// Engine-wide settings; per-plugin limits must fit inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Component instances alive at once across all plugins (pool slots).
    pub pool_instances: u32,
    /// The largest linear memory any plugin may be given.
    pub max_memory_bytes: usize,
    /// Maximum wasm stack per call.
    pub max_wasm_stack: usize,
    /// Epoch tick: the granularity of call deadlines.
    pub epoch_tick: Duration,
    /// Bytes at the start of each pooled linear memory that are reset by
    /// `memset` and kept mapped between calls instead of being returned to
    /// the kernel. Measured on 2026-11-23 with guard regions, the example
    /// guest's fresh-call p50 with 0 B kept: 64 us, 64 KiB: 41 us, 256 KiB
    /// (that guest's whole memory, the default): 30 us, 1 MiB: 29 us.
    pub memory_keep_resident: usize,
    /// Pool slots kept warm (their resident memory kept) while no instance
    /// uses them, beyond those a live plugin can reuse. Every reload brings
    /// new modules, and wasmtime's default of 100 let `ward serve`'s RSS
    /// climb ~2 MiB per reload in the soak; with 0 the set of slots ever
    /// touched stays the peak number of concurrent calls.
    pub max_unused_warm_slots: u32,
    /// How guest memory accesses are kept in bounds.
    pub bounds_checks: BoundsChecks,
    /// Reset a finished call's memory by asking the kernel which pages of
    /// it are private (written since the slot was mapped: Linux's
    /// `PAGEMAP_SCAN`, 6.7+) and copying back only those, keeping up to
    /// `pagemap_keep_resident` bytes mapped, instead of resetting the first
    /// `memory_keep_resident` bytes whole and returning the rest to the
    /// kernel (whose pages then fault in again on the next call). Where the
    /// kernel lacks the ioctl, the latter. Default on.
    ///
    /// What it buys is a JavaScript plugin's call: its snapshot is ~1.4 MiB
    /// of which a call writes a few dozen pages, so a whole-region reset
    /// either copies the whole image back or refaults what the call touches.
    /// Measured on 2026-12-07 (`ward-bench --plugin js`, release, while a
    /// build ran): JS p50 215 µs → 80 µs, example-token unchanged (16 µs).
    pub pagemap_scan: bool,
    /// `memory_keep_resident` when `pagemap_scan` is in effect: a call's
    /// reset then costs what the slot has written, not this size, so it can
    /// cover a JavaScript snapshot and its heap (the default plugin memory
    /// limit, 16 MiB). The RSS it allows is bounded the same way: pages a
    /// slot's calls wrote, per slot in use.
    pub pagemap_keep_resident: usize,
}

/// How compiled guest code keeps its memory accesses in bounds. Either way an
/// access outside the memory's current size is a trap (`trap`), never a read
/// of host memory; the modes differ in cost and in what they ask of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoundsChecks {
    /// Each pooled memory slot reserves 4 GiB of address space plus a
    /// 32 MiB guard, and pages beyond a memory's current size stay
    /// inaccessible, so compiled code carries no bounds checks: an access
    /// out of bounds faults and wasmtime's signal handler makes it a trap.
    /// Measured on 2026-11-24 against `Explicit`, in one binary: JWT EdDSA
    /// through host crypto 76 -> 67 us, in-guest RS256 1334 -> 840 us,
    /// example-token loads 33-34 -> 23-23.5 ms. Costs: address space (about 4 GiB per memory slot,
    /// `pool_instances` x 4 slots: ~4 TiB reserved, not committed, at the
    /// default), process-wide signal handlers, and an `mprotect` with its
    /// TLB shoot-down when a call that grew its memory is reset. The guest
    /// SDK's allocator uses the module's initial pages first, so small
    /// plugins do not grow memory at all.
    #[default]
    GuardRegions,
    /// Every access is compared with the memory's current size. No signal
    /// handlers, and a slot reserves only `max_memory_bytes`: for hosts with
    /// a limited address space (`ulimit -v`), or plugins that grow their
    /// memory on every call.
    Explicit,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            pool_instances: 256,
            max_memory_bytes: 64 << 20,
            max_wasm_stack: 512 << 10,
            epoch_tick: Duration::from_millis(1),
            memory_keep_resident: 256 << 10,
            max_unused_warm_slots: 0,
            bounds_checks: BoundsChecks::default(),
            pagemap_scan: true,
            pagemap_keep_resident: 16 << 20,
        }
    }
}

/// Opens what the memory reset of [`EngineSettings::pagemap_scan`] needs,
/// `/proc/self/pagemap` (wasmtime keeps it open for the process), and says
/// whether the kernel offers the scan. `ward serve` calls it before its
/// lockdown: Landlock would refuse the open afterwards, and every reset
/// would quietly take the slower path.
pub fn prepare_memory_reset() -> bool {
    PoolingAllocationConfig::is_pagemap_scan_available()
}

pub(crate) fn build_engine(settings: &EngineSettings, cache: Option<wasmtime::Cache>) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    // `compileCache` (compile_cache.rs): components compiled before load from disk.
    config.cache(cache);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(settings.max_wasm_stack);
    // Every call runs on a fibre (`call.rs`), its stack from the pool below.
    config.async_stack_size(settings.max_wasm_stack.saturating_add(FIBRE_HOST_STACK));
    config.wasm_component_model(true);
    config.memory_init_cow(true);
    match settings.bounds_checks {
        BoundsChecks::GuardRegions => {
            // A 4 GiB reservation covers every 32-bit address, and the guard
            // every constant offset Cranelift folds into an access, which is
            // what lets it drop the checks.
            config.signals_based_traps(true);
            config.memory_reservation(GUARDED_RESERVATION);
            config.memory_guard_size(GUARD_BYTES);
        }
        BoundsChecks::Explicit => {
            config.signals_based_traps(false);
            config.memory_reservation(settings.max_memory_bytes as u64);
            config.memory_guard_size(0);
        }
    }
    config.memory_reservation_for_growth(0);
    // The native-to-wasm address map only serves backtraces with wasm
    // offsets, which ward never shows; not building it cuts load time
    // (measured on 2026-11-23: 47 -> 42-45 ms for example-token, median of
    // 21 loads).
    config.generate_address_map(false);

    let scan = settings.pagemap_scan && PoolingAllocationConfig::is_pagemap_scan_available();
    let keep_resident = if scan { settings.pagemap_keep_resident.max(settings.memory_keep_resident) } else { settings.memory_keep_resident };
    let slots = settings.pool_instances;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(MAX_INSTANCES as u32))
        .total_memories(slots.saturating_mul(MAX_MEMORIES as u32))
        .total_tables(slots.saturating_mul(MAX_TABLES as u32))
        .max_core_instances_per_component(MAX_INSTANCES as u32)
        .max_memories_per_component(MAX_MEMORIES as u32)
        .max_tables_per_component(MAX_TABLES as u32)
        .max_memory_size(settings.max_memory_bytes)
        .linear_memory_keep_resident(keep_resident)
        .max_unused_warm_slots(settings.max_unused_warm_slots)
        .total_stacks(slots)
        .table_keep_resident(64 << 10)
        .pagemap_scan(if scan { Enabled::Yes } else { Enabled::No });
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Advances the engine's epoch every tick on its own thread; stops on drop.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine, tick: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("ward-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
