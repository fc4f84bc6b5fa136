//! QuickJS's stack limit, reported as what it is.
//!
//! QuickJS stops deep recursion with a catchable `RangeError` well before
//! the wasm stack ends (src/init.rs, `JS_STACK_BYTES`). A call that ends in
//! that error has exhausted its stack, and ward reports exhausted stacks as
//! `stack-overflow` for every plugin; the one way a guest can make the host
//! see a stack overflow is to overflow the wasm stack, so that is what this
//! does, from a frame whose size is known, in microseconds.

use std::hint::black_box;

/// Recurses until the host's `max_wasm_stack` traps. `black_box` keeps the
/// optimizer from turning the recursion into a loop.
pub(crate) fn overflow() -> ! {
    let depth = descend(black_box(0));
    // Unreachable: the trap comes first. Trap anyway if it ever is.
    black_box(depth);
    core::arch::wasm32::unreachable()
}

fn descend(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return depth;
    }
    black_box(descend(depth + 1)).wrapping_add(1)
}
