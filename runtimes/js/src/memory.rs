//! QuickJS's heap (wasi-libc's malloc) grows through `sbrk`; this one traps
//! when the host refuses the growth, instead of returning failure.
//!
//! QuickJS turns a failed allocation into a catchable `InternalError`, so a
//! plugin at its memory limit would end as an ordinary plugin deny (or not
//! end at all, if it catches the error and allocates again). Trapping right
//! after the refused growth makes it what it is for every plugin: the
//! host's `memory-limit` deny (the host's limiter saw the refusal).
//! Defined here, the symbol keeps wasi-libc's `sbrk` out of the link, as
//! rquickjs's shim does for the clock.

use core::arch::wasm32;

const PAGE: usize = 64 << 10;

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn sbrk(increment: isize) -> *mut u8 {
    let end = wasm32::memory_size(0) * PAGE;
    // dlmalloc asks for whole pages and never shrinks the heap (wasi-libc's
    // own sbrk aborts on both as well).
    let Ok(increment) = usize::try_from(increment) else { wasm32::unreachable() };
    if increment % PAGE != 0 {
        wasm32::unreachable();
    }
    if increment > 0 && wasm32::memory_grow(0, increment / PAGE) == usize::MAX {
        wasm32::unreachable();
    }
    end as *mut u8
}
