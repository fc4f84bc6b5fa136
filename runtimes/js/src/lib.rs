//! ward's JavaScript engine: QuickJS (quickjs-ng, through `rquickjs`) behind
//! the `ward:auth@0.3.0` authenticator export.
//!
//! The host never runs this module as it is. At plugin load it writes the
//! operator-signed `.mjs` into the module's memory, calls [`init`]'s export
//! once (engine start, harness, module parse and evaluation, entry lookup),
//! snapshots the initialized memory and globals into a new module
//! (wasmtime-wizer) and componentizes that. Every call then starts from the
//! snapshot in a fresh instance: [`call`] runs one `authenticate` and the
//! job queue to completion. See docs/javascript.md.

mod call;
mod clock;
mod direct;
mod entropy;
mod init;
mod memory;
mod own;
mod reply;
mod stack;

use std::cell::RefCell;

use rquickjs::{Context, Function, Object, Persistent, Runtime};
use ward_guest::{Authenticator, Claims, Context as RequestContext, Credential, Deny};

/// The engine as [`init`] leaves it, and as the snapshot holds it.
struct Engine {
    /// Kept alive with the context; calls reach it through `context`.
    _runtime: Runtime,
    context: Context,
    /// The object `harness.js` evaluates to: a call reads its `outcome`.
    harness: Persistent<Object<'static>>,
    /// The harness's `start`, looked up once at init rather than per call.
    start: Persistent<Function<'static>>,
}

thread_local! {
    /// wasm32-unknown-unknown has one thread; this is a plain static there.
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

struct JsPlugin;

impl Authenticator for JsPlugin {
    fn authenticate(cred: &Credential, ctx: &RequestContext) -> Result<Claims, Deny> {
        call::authenticate(cred, ctx)
    }
}

ward_guest::export!(JsPlugin);
