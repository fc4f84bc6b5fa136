//! Entropy for `Math.random`, from `wasi:random`, which ward's deny-all WASI
//! context serves like any other plugin's.
//!
//! QuickJS's own generator is seeded when the engine starts, so its state
//! would be in the snapshot and every call would draw the same numbers;
//! harness.js replaces it with one that a call reseeds, at its first draw,
//! from the function made here. A call that never draws imports nothing.

#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "ward:js-engine/entropy",
        generate_all,
    });
}

use bindings::wasi::random::random::get_random_u64;
use rquickjs::{Ctx, Function};

/// The JavaScript function the harness draws a seed from: 128 fresh bits as
/// four 32-bit words, the generator's state. Only the harness holds it.
pub(crate) fn source<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Function<'js>> {
    Function::new(ctx.clone(), || {
        let (a, b) = (get_random_u64(), get_random_u64());
        vec![a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32]
    })
}
