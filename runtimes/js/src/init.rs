//! The snapshot-time entry: the host calls `ward_js_init` once, with the
//! verified module source in guest memory, before taking the snapshot.
//! Nothing in a call path reaches this code.

use rquickjs::{Context, Ctx, Function, Module, Object, Persistent, Runtime, Value};

use crate::{ENGINE, Engine, direct, entropy};

/// What `ward_js_init` returns; the host maps each onto a coded refusal.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InitStatus {
    Ready = 0,
    /// The source is not UTF-8.
    NotUtf8 = 1,
    /// The module does not parse (a syntax error, or an `import` of
    /// anything: no module loader exists).
    Syntax = 2,
    /// Evaluating the module threw, or its top-level await rejected or
    /// never settled.
    Evaluation = 3,
    /// No default export, `authenticate` or `default.authenticate` function.
    NoEntry = 4,
    /// QuickJS could not start (out of memory).
    Engine = 5,
    /// `ward_js_init` ran before: the snapshot holds one plugin.
    AlreadyInitialized = 6,
}

/// Stack QuickJS may use before it throws `RangeError`, below the 256 KiB
/// the module is linked with (`ward_guest_build::JS_ENGINE_STACK_BYTES`):
/// its check measures the linear-memory stack pointer, and a limit at or
/// above the real stack would let C code run off its end into static data.
const JS_STACK_BYTES: usize = 192 << 10;

/// The name the module is known by inside the engine (stack traces only).
const MODULE_NAME: &str = "plugin.mjs";

const HARNESS: &str = include_str!("harness.js");

/// Starts the engine and evaluates the `len` bytes of module source at
/// `source` (a buffer the host got from `cabi_realloc`).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn ward_js_init(source: *const u8, len: usize) -> i32 {
    // SAFETY: the host allocated `len` bytes at `source` with this module's
    // `cabi_realloc` and wrote the source there; nothing else aliases them.
    let bytes = unsafe { core::slice::from_raw_parts(source, len) };
    init(bytes) as i32
}

fn init(bytes: &[u8]) -> InitStatus {
    if ENGINE.with(|engine| engine.borrow().is_some()) {
        return InitStatus::AlreadyInitialized;
    }
    let Ok(source) = core::str::from_utf8(bytes) else { return InitStatus::NotUtf8 };
    let Ok(runtime) = Runtime::new() else { return InitStatus::Engine };
    runtime.set_max_stack_size(JS_STACK_BYTES);
    let Ok(context) = Context::full(&runtime) else { return InitStatus::Engine };
    let harness = context.with(|ctx| load(&ctx, source));
    match harness {
        Ok(harness) => {
            runtime.run_gc();
            // No cycle collection during a call: an instance lives for one
            // call, reference counting frees acyclic garbage at once, and
            // the host's memory limit bounds the cycles left. Left at
            // QuickJS's default, the threshold sits just above the
            // snapshot's heap and a full collection ran on most calls.
            runtime.set_gc_threshold(usize::MAX);
            let (harness, start) = harness;
            ENGINE.with(|engine| *engine.borrow_mut() = Some(Engine { _runtime: runtime, context, harness, start }));
            InitStatus::Ready
        }
        Err(status) => status,
    }
}

/// The harness and its `start`, once the module is evaluated and bound.
type Harness = (Persistent<Object<'static>>, Persistent<Function<'static>>);

fn load<'js>(ctx: &Ctx<'js>, source: &str) -> Result<Harness, InitStatus> {
    let harness: Object = ctx.eval(HARNESS).map_err(|_| InitStatus::Engine)?;
    let set_entropy: Function = harness.get("entropy").map_err(|_| InitStatus::Engine)?;
    set_entropy.call::<_, ()>((entropy::source(ctx).map_err(|_| InitStatus::Engine)?,)).map_err(|_| InitStatus::Engine)?;
    let set_reader: Function = harness.get("reader").map_err(|_| InitStatus::Engine)?;
    set_reader.call::<_, ()>((direct::reader(ctx).map_err(|_| InitStatus::Engine)?,)).map_err(|_| InitStatus::Engine)?;
    let module = Module::declare(ctx.clone(), MODULE_NAME, source).map_err(|_| InitStatus::Syntax)?;
    let (module, evaluated) = module.eval().map_err(|_| InitStatus::Evaluation)?;
    // Top-level await: settle it now, at load, never in a call. (Through
    // `ctx`: `Runtime`'s own methods take the lock `with` holds.)
    while ctx.execute_pending_job() {}
    match evaluated.result::<Value>() {
        Some(Ok(_)) => {}
        Some(Err(_)) | None => return Err(InitStatus::Evaluation),
    }
    let namespace = module.namespace().map_err(|_| InitStatus::Evaluation)?;
    let bind: Function = harness.get("bind").map_err(|_| InitStatus::Engine)?;
    match bind.call::<_, bool>((namespace,)) {
        Ok(true) => {
            let start: Function = harness.get("start").map_err(|_| InitStatus::Engine)?;
            Ok((Persistent::save(ctx, harness), Persistent::save(ctx, start)))
        }
        Ok(false) => Err(InitStatus::NoEntry),
        Err(_) => Err(InitStatus::Evaluation),
    }
}
