//! The guest's allocator: a bump pointer over memory the instance grows.
//!
//! ward serves every call from a fresh instance and throws it away after, so
//! a general-purpose allocator's free lists never pay off: all they add is
//! code (dlmalloc is a third of a small plugin, and the host compiles all of
//! it at load) and pages touched per call (which the host resets after every
//! call). Here an allocation is an aligned pointer bump; memory is grown a
//! page at a time, only when needed. Freeing the most recent allocation (the
//! usual pattern of temporaries) and growing it in place (`Vec` doubling)
//! reuse its bytes; anything else is left until the instance is dropped.
//!
//! The heap starts after everything the linker placed (stack, data), so
//! none of that is ever handed out (`heap_start` says where exactly). Other
//! code may grow the same memory (in a wasip1 guest, wasi-libc's own
//! `malloc`): every growth checks where the new pages really start, and a
//! heap that finds foreign pages after its end continues past them instead
//! of over them.
//! Turn it off with `default-features = false` to bring your own allocator.
// `GlobalAlloc` is an unsafe trait: its contract (unique, aligned, in-bounds
// blocks) is what the code below upholds, and the allocator test guest
// (tests/guests/examples/allocator.rs) checks it.
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 64 * 1024;

/// Wasm guests are single-threaded; the atomics are only there because a
/// global allocator must be `Sync`, and on wasm32 they are plain loads and
/// stores.
pub struct Bump {
    /// The next free byte; 0 until the first allocation.
    next: AtomicUsize,
    /// The end of linear memory as of the last growth.
    end: AtomicUsize,
}

impl Bump {
    /// An allocator that has not grown memory yet.
    pub const fn new() -> Self {
        Self { next: AtomicUsize::new(0), end: AtomicUsize::new(0) }
    }

    /// Grows memory so that the heap reaches `needed` (beyond `end`).
    /// Invariant kept: the bytes from `next` to `end` are free and ours.
    fn grow(&self, needed: usize) -> Growth {
        let end = self.end.load(Ordering::Relaxed);
        let pages = needed.saturating_sub(end).div_ceil(PAGE).max(1);
        let previous = wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return Growth::Refused;
        }
        let (Some(previous_end), Some(new_end)) = (previous.checked_mul(PAGE), memory_end()) else {
            return Growth::Refused;
        };
        self.end.store(new_end, Ordering::Relaxed);
        if previous_end == end {
            Growth::Contiguous
        } else {
            // Pages between our old end and `previous_end` belong to whoever
            // grew them; the heap goes on from the pages just added.
            self.next.store(previous_end, Ordering::Relaxed);
            Growth::Elsewhere(previous_end)
        }
    }

    /// The `layout` block at or after `from`, taken, if it fits below `end`.
    #[inline]
    fn fit(&self, from: usize, layout: Layout) -> Option<*mut u8> {
        let (start, stop) = place(from, layout)?;
        if stop > self.end.load(Ordering::Relaxed) {
            return None;
        }
        self.next.store(stop, Ordering::Relaxed);
        Some(start as *mut u8)
    }

    /// `alloc` when the block does not fit: out of line, so the common case
    /// stays a handful of instructions (a guest may allocate millions of
    /// times on one fuel budget).
    #[cold]
    #[inline(never)]
    fn alloc_growing(&self, mut from: usize, layout: Layout) -> *mut u8 {
        // At most a few rounds: each one grows memory or returns.
        loop {
            let Some((_, stop)) = place(from, layout) else { return ptr::null_mut() };
            match self.grow(stop) {
                Growth::Contiguous => {}
                Growth::Elsewhere(fresh) => from = fresh,
                Growth::Refused => return ptr::null_mut(),
            }
            if let Some(block) = self.fit(from, layout) {
                return block;
            }
        }
    }

    /// The next free byte; before the first allocation, [`heap_start`].
    fn next(&self) -> Option<usize> {
        match self.next.load(Ordering::Relaxed) {
            0 => {
                let end = memory_end()?;
                self.end.store(end, Ordering::Relaxed);
                Some(heap_start(end))
            }
            next => Some(next),
        }
    }
}

/// What a `memory.grow` gave the heap.
enum Growth {
    /// New pages right after the heap's end.
    Contiguous,
    /// New pages, but someone else grew memory since the heap last looked:
    /// the heap now continues at this address.
    Elsewhere(usize),
    /// The host refused (the plugin's memory limit).
    Refused,
}

/// The first aligned `layout` block at or after `from`: its start and end.
#[inline]
fn place(from: usize, layout: Layout) -> Option<(usize, usize)> {
    // `align` is a power of two (Layout guarantees it).
    let start = from.checked_add(layout.align() - 1)? & !(layout.align() - 1);
    Some((start, start.checked_add(layout.size())?))
}

/// Where the heap begins in a memory whose initial end is `end`.
///
/// In a `wasm32-unknown-unknown` module, right after everything the linker
/// placed (`__heap_base`: after the stack and the data), so that a call
/// first uses the rest of the initial pages and often never grows memory
/// (every call of the jwt plugin, either build, fits in its two initial
/// pages: measured on 2026-11-24): fewer pages for the host to reset after
/// the call, and no `memory.grow`. In a wasip1 guest those
/// bytes are where wasi-libc's own `malloc` starts, so there the heap
/// begins at the end of the initial memory.
fn heap_start(end: usize) -> usize {
    #[cfg(target_os = "unknown")]
    {
        unsafe extern "C" {
            /// Defined by wasm-ld: the first byte after the stack and data.
            static __heap_base: u8;
        }
        let base = (&raw const __heap_base) as usize;
        if base != 0 && base <= end {
            return base;
        }
    }
    // Never address 0 (a memory with no initial pages): that pointer would
    // read as a failed allocation.
    end.max(PAGE)
}

/// None for a full 4 GiB memory, whose end a wasm32 `usize` cannot hold.
fn memory_end() -> Option<usize> {
    wasm32::memory_size(0).checked_mul(PAGE)
}

impl Default for Bump {
    fn default() -> Self {
        Self::new()
    }
}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(from) = self.next() else { return ptr::null_mut() };
        self.fit(from, layout).unwrap_or_else(|| self.alloc_growing(from, layout))
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let start = block as usize;
        if start.wrapping_add(layout.size()) == self.next.load(Ordering::Relaxed) {
            self.next.store(start, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = block as usize;
        let is_last = start.wrapping_add(layout.size()) == self.next.load(Ordering::Relaxed);
        if is_last
            && let Some(stop) = start.checked_add(new_size)
            && (stop <= self.end.load(Ordering::Relaxed) || matches!(self.grow(stop), Growth::Contiguous))
        {
            self.next.store(stop, Ordering::Relaxed);
            return block;
        }
        if new_size <= layout.size() {
            return block;
        }
        // SAFETY: the caller's contract (a live block of `layout`, a non-zero
        // `new_size` that does not overflow at `layout.align()`) is passed on.
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else { return ptr::null_mut() };
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both blocks are live, distinct (the new one starts at or
            // after `next`, past the old one) and at least `layout.size()` long.
            unsafe { ptr::copy_nonoverlapping(block, moved, layout.size()) };
        }
        moved
    }
}
