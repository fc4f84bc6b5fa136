//! Pre-initialization: run the engine's `ward_js_init` on the verified
//! source once, then snapshot memory and globals into a new core module
//! (wasmtime-wizer's `instrument` + `snapshot`, with a synchronous store).

use std::future::Future;
use std::sync::OnceLock;

use wasmtime::{Config, Engine, Extern, ExternType, Func, Instance, Module, OptLevel, Store, Trap};
use wasmtime_wizer::{InstanceState, SnapshotVal, Wizer};

use super::super::blocking::ready_now;
use super::super::limits::{GuestLimiter, Limits};
use super::{ENGINE_CORE, JsRefusal};

/// The engine's export that evaluates the module (runtimes/js/src/init.rs).
const INIT_FUNC: &str = "ward_js_init";
/// The allocator the source buffer comes from (wit-bindgen's).
const REALLOC_FUNC: &str = "cabi_realloc";
/// Fuel for engine start plus module evaluation, at load only. Measured on
/// 2026-12-07: QuickJS start and a small module take about 5 M; this leaves
/// room for large modules and stops a top-level infinite loop in well under
/// a second of CPU.
const INIT_FUEL: u64 = 500_000_000;
/// Memory the engine may grow to while evaluating; the snapshot's initial
/// memory is what it used, and every call starts from that.
const INIT_MEMORY_BYTES: usize = 16 << 20;
/// Largest entry accepted, as Haechi's `MAX_ENTRY_BYTES`.
pub const MAX_SOURCE_BYTES: usize = 4 << 20;

/// The snapshot of the engine with `source` evaluated, as a core module.
pub(super) fn snapshot(source: &[u8]) -> Result<Vec<u8>, JsRefusal> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(JsRefusal::Engine { why: "the entry is larger than 4 MiB" });
    }
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_FUNC);
    let (cx, instrumented) = wizer.instrument(ENGINE_CORE).map_err(|_| JsRefusal::Engine { why: "instrumenting the engine" })?;
    let (engine, module) = instrumented_module(&instrumented)?;
    let limiter = GuestLimiter::new(&Limits { memory_bytes: INIT_MEMORY_BYTES, ..Limits::default() });
    let mut store = Store::new(engine, limiter);
    store.limiter(|limiter| limiter);
    store.set_fuel(INIT_FUEL).map_err(|_| JsRefusal::Engine { why: "setting fuel" })?;
    let imports = trapping_imports(&mut store, module)?;
    let instance = Instance::new(&mut store, module, &imports).map_err(|_| JsRefusal::Engine { why: "instantiating the engine" })?;
    evaluate(&mut store, instance, source)?;
    let mut state = State { store: &mut store, instance, missing: false };
    // Every `State` method is ready at once, so the snapshot never waits.
    let rewritten = ready_now(wizer.snapshot(&cx, &mut state)).ok_or(JsRefusal::Engine { why: "the snapshot did not complete" })?;
    let rewritten = rewritten.map_err(|_| JsRefusal::Engine { why: "taking the snapshot" })?;
    if state.missing {
        return Err(JsRefusal::Engine { why: "the instrumented engine lacks an export" });
    }
    Ok(rewritten)
}

/// The engine's imports while it evaluates the module: only a call uses
/// them (`wasi:random` for `Math.random`'s seed, served then by the deny-all
/// WASI context), so each is a trap here, and evaluation has no entropy.
fn trapping_imports(store: &mut Store<GuestLimiter>, module: &Module) -> Result<Vec<Extern>, JsRefusal> {
    module
        .imports()
        .map(|import| match import.ty() {
            ExternType::Func(ty) => Ok(Func::new(&mut *store, ty, |_, _, _| Err(wasmtime::Error::msg("an engine import called at snapshot time"))).into()),
            _ => Err(JsRefusal::Engine { why: "the engine imports something other than a function" }),
        })
        .collect()
}

/// Writes the source into the instance and runs the init export.
fn evaluate(store: &mut Store<GuestLimiter>, instance: Instance, source: &[u8]) -> Result<(), JsRefusal> {
    let realloc = instance
        .get_typed_func::<(i32, i32, i32, i32), i32>(&mut *store, REALLOC_FUNC)
        .map_err(|_| JsRefusal::Engine { why: "the engine exports no allocator" })?;
    let init = instance.get_typed_func::<(i32, i32), i32>(&mut *store, INIT_FUNC).map_err(|_| JsRefusal::Engine { why: "the engine exports no init" })?;
    let memory = instance.get_memory(&mut *store, "memory").ok_or(JsRefusal::Engine { why: "the engine exports no memory" })?;
    // MAX_SOURCE_BYTES fits an i32.
    let len = i32::try_from(source.len()).map_err(|_| JsRefusal::Engine { why: "the entry is too large" })?;
    let ptr = realloc.call(&mut *store, (0, 0, 1, len)).map_err(|err| fault(store, &err))?;
    let offset = usize::try_from(ptr.cast_unsigned()).map_err(|_| JsRefusal::Engine { why: "allocating the source" })?;
    memory.write(&mut *store, offset, source).map_err(|_| JsRefusal::Engine { why: "writing the source" })?;
    let status = init.call(&mut *store, (ptr, len)).map_err(|err| fault(store, &err))?;
    match JsRefusal::from_status(status) {
        None => Ok(()),
        // QuickJS turns a refused growth into an exception, which ends here.
        Some(_) if store.data().hit_limit => Err(JsRefusal::EvaluationMemory),
        Some(refusal) => Err(refusal),
    }
}

/// A trap during evaluation: the module's doing when it is fuel or memory
/// (a top-level loop or allocation), else an engine fault.
fn fault(store: &Store<GuestLimiter>, err: &wasmtime::Error) -> JsRefusal {
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => JsRefusal::EvaluationFuel,
        _ if store.data().hit_limit => JsRefusal::EvaluationMemory,
        _ => JsRefusal::Engine { why: "the engine trapped" },
    }
}

/// The instrumented engine compiled once per process: every plugin's
/// instrumentation of the same engine bytes is the same module.
fn instrumented_module(instrumented: &[u8]) -> Result<&'static (Engine, Module), JsRefusal> {
    static COMPILED: OnceLock<Option<(Engine, Module)>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            let mut config = Config::new();
            config.consume_fuel(true);
            // It runs once per plugin version, for the few milliseconds of
            // evaluation: optimizing its megabyte of code would cost more
            // than it saves.
            config.cranelift_opt_level(OptLevel::None);
            let engine = Engine::new(&config).ok()?;
            let module = Module::new(&engine, instrumented).ok()?;
            Some((engine, module))
        })
        .as_ref()
        .ok_or(JsRefusal::Engine { why: "compiling the engine" })
}

/// What wizer reads the instance's state through.
struct State<'a> {
    store: &'a mut Store<GuestLimiter>,
    instance: Instance,
    /// An export wizer's instrumentation should have added was absent.
    missing: bool,
}

impl InstanceState for State<'_> {
    fn global_get(&mut self, name: &str, _type_hint: wasmparser::ValType) -> impl Future<Output = SnapshotVal> + Send {
        let value = match self.instance.get_global(&mut *self.store, name).map(|global| global.get(&mut *self.store)) {
            Some(wasmtime::Val::I32(x)) => SnapshotVal::I32(x),
            Some(wasmtime::Val::I64(x)) => SnapshotVal::I64(x),
            Some(wasmtime::Val::F32(x)) => SnapshotVal::F32(x),
            Some(wasmtime::Val::F64(x)) => SnapshotVal::F64(x),
            Some(wasmtime::Val::V128(x)) => SnapshotVal::V128(x.as_u128()),
            _ => {
                self.missing = true;
                SnapshotVal::I32(0)
            }
        };
        std::future::ready(value)
    }

    fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) -> impl Future<Output = ()> + Send {
        match self.instance.get_memory(&mut *self.store, name) {
            Some(memory) => contents(memory.data(&*self.store)),
            None => self.missing = true,
        }
        std::future::ready(())
    }
}
