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
//! The heap starts at the end of the memory the module declares, so nothing
//! the linker placed there (stack, data) is ever handed out.
//! Turn it off with `default-features = false` to bring your own allocator.
// `GlobalAlloc` is an unsafe trait: its contract (unique, aligned, in-bounds
// blocks) is what the code below upholds, and the unit tests check it.
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

    /// Makes memory reach at least `needed`; false when the host refuses.
    fn reserve(&self, needed: usize) -> bool {
        let end = self.end.load(Ordering::Relaxed);
        if needed <= end {
            return true;
        }
        let pages = (needed - end).div_ceil(PAGE);
        if wasm32::memory_grow(0, pages) == usize::MAX {
            return false;
        }
        match memory_end() {
            Some(new_end) => {
                self.end.store(new_end, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The next free byte; before the first allocation, where memory ended
    /// when the instance started.
    fn next(&self) -> Option<usize> {
        match self.next.load(Ordering::Relaxed) {
            0 => {
                let end = memory_end()?;
                self.end.store(end, Ordering::Relaxed);
                // Never address 0 (a memory with no initial pages): that
                // pointer would read as a failed allocation.
                Some(end.max(PAGE))
            }
            next => Some(next),
        }
    }
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
        let Some(next) = self.next() else { return ptr::null_mut() };
        // `align` is a power of two (Layout guarantees it).
        let Some(start) = next.checked_add(layout.align() - 1).map(|n| n & !(layout.align() - 1)) else {
            return ptr::null_mut();
        };
        let Some(stop) = start.checked_add(layout.size()) else { return ptr::null_mut() };
        if !self.reserve(stop) {
            return ptr::null_mut();
        }
        self.next.store(stop, Ordering::Relaxed);
        start as *mut u8
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
        if is_last && let Some(stop) = start.checked_add(new_size) {
            if !self.reserve(stop) {
                return ptr::null_mut();
            }
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
            // SAFETY: both blocks are live, distinct (the new one lies past
            // `next`, beyond the old one) and at least `layout.size()` long.
            unsafe { ptr::copy_nonoverlapping(block, moved, layout.size()) };
        }
        moved
    }
}
