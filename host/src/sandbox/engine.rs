//! The one wasmtime `Engine` a runtime shares, and the epoch ticker that
//! gives every call a wall-clock deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};

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
    /// the kernel; see `docs/performance.md` for the measured trade-off.
    pub memory_keep_resident: usize,
    /// Pool slots kept warm (their resident memory kept) while no instance
    /// uses them, beyond those a live plugin can reuse. Every reload brings
    /// new modules, and wasmtime's default of 100 let `ward serve`'s RSS
    /// climb ~2 MiB per reload in the soak; with 0 the set of slots ever
    /// touched stays the peak number of concurrent calls.
    pub max_unused_warm_slots: u32,
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
        }
    }
}

pub(crate) fn build_engine(settings: &EngineSettings) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.consume_fuel(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(settings.max_wasm_stack);
    config.wasm_component_model(true);
    config.memory_init_cow(true);
    // Explicit bounds checks instead of guard regions: with guard regions every
    // call that grows memory is undone by an mprotect on reset, and each of
    // those shoots down TLBs on the other cores. Measured here: fresh-instance
    // p50 30 -> 18 us and 2-thread throughput x2 (docs/performance.md).
    config.signals_based_traps(false);
    config.memory_reservation(settings.max_memory_bytes as u64);
    config.memory_guard_size(0);
    config.memory_reservation_for_growth(0);
    // The native-to-wasm address map only serves backtraces with wasm
    // offsets, which ward never shows; not building it cuts load time
    // (measured here 47 -> 42-45 ms for example-token, docs/performance.md).
    config.generate_address_map(false);

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
        .linear_memory_keep_resident(settings.memory_keep_resident)
        .max_unused_warm_slots(settings.max_unused_warm_slots)
        .table_keep_resident(64 << 10);
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
