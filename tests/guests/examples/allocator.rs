//! Exercises the SDK's bump allocator (guest-sdk/src/bump.rs) with the
//! patterns real plugins produce, and reports each check that held as a
//! scope. The host test expects every one of them; a missing scope names
//! the broken property.
//!
//! | scope        | property                                                      |
//! |--------------|---------------------------------------------------------------|
//! | `aligned`    | boxes of alignment 1 to 4096 are aligned                      |
//! | `disjoint`   | 200 live blocks of mixed sizes keep their own contents        |
//! | `grow-last`  | a `Vec` grown to 1 MiB while last keeps its contents          |
//! | `grow-moved` | a `Vec` grown while not last is copied whole; its neighbour intact |
//! | `reuse-last` | freeing the newest block hands its bytes to the next one      |
//! | `zeroed`     | `vec![0; n]` is zero even on reused (dirty) bytes             |
//! | `foreign-grow` | after other code grows memory (as wasi-libc's `malloc` does in a wasip1 guest), no block overlaps its page, grown or new |
//! | `big`        | a 4 MiB block, beyond the memory the call started with        |

use std::hint::black_box;

use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct Allocator;

#[repr(align(4096))]
struct Page([u8; 4096]);
#[repr(align(64))]
struct Line([u8; 64]);
#[repr(align(16))]
struct Quad(u128);

/// black_box: the compiler trusts the allocator's alignment promise and
/// would fold an alignment test on a plain address to `true`.
fn addr<T: ?Sized>(value: &T) -> usize {
    black_box((value as *const T).cast::<u8>() as usize)
}

fn aligned() -> bool {
    let byte = Box::new(1u8);
    let page = Box::new(Page([2; 4096]));
    let odd = Box::new([3u8; 3]);
    let line = Box::new(Line([4; 64]));
    let quad = Box::new(Quad(5));
    let page2 = Box::new(Page([6; 4096]));
    addr(&*page) % 4096 == 0
        && addr(&*page2) % 4096 == 0
        && addr(&*line) % 64 == 0
        && addr(&*quad) % 16 == 0
        && *byte == 1
        && odd.iter().all(|b| *b == 3)
        && page.0.iter().all(|b| *b == 2)
        && page2.0.iter().all(|b| *b == 6)
        && line.0.iter().all(|b| *b == 4)
        && quad.0 == 5
}

fn disjoint() -> bool {
    let blocks: Vec<Vec<u8>> = (0..200usize).map(|i| vec![i as u8; 1 + (i * 37) % 300]).collect();
    blocks.iter().enumerate().all(|(i, block)| block.len() == 1 + (i * 37) % 300 && block.iter().all(|b| *b == i as u8))
}

fn grow_last() -> bool {
    let mut v: Vec<u32> = Vec::with_capacity(4);
    for i in 0..(256 * 1024) {
        v.push(black_box(i));
    }
    v.iter().enumerate().all(|(i, x)| *x == i as u32)
}

fn grow_moved() -> bool {
    let mut first: Vec<u8> = (0..=255).collect();
    let second: Vec<u8> = vec![0xAB; 100];
    first.extend(0..=255u8);
    first.reserve(10_000);
    first.iter().enumerate().all(|(i, b)| *b == i as u8) && second.iter().all(|b| *b == 0xAB)
}

fn reuse_last() -> bool {
    // black_box: unobserved allocations may be optimised away.
    let first = black_box(Box::new([1u8; 128]));
    let at = addr(&*first);
    drop(first);
    let second = black_box(Box::new([2u8; 128]));
    addr(&*second) == at && second.iter().all(|b| *b == 2)
}

fn zeroed() -> bool {
    let dirty = vec![0xFFu8; 4096];
    drop(black_box(dirty));
    let clean = vec![0u8; 4096];
    clean.iter().all(|b| *b == 0)
}

fn big() -> bool {
    let block = vec![7u8; 4 << 20];
    block.len() == 4 << 20 && block.iter().step_by(4096).all(|b| *b == 7)
}

fn overlaps(block: &[u8], (start, end): (usize, usize)) -> bool {
    let at = addr(block);
    at < end && start < at + block.len()
}

fn foreign_grow() -> bool {
    let mut last: Vec<u8> = Vec::with_capacity(16);
    last.push(1);
    let small_before = vec![2u8; 8];
    // Another allocator takes a page behind the heap's back.
    let previous = core::arch::wasm32::memory_grow(0, 1);
    if previous == usize::MAX {
        return false;
    }
    let foreign = (previous * 65536, previous * 65536 + 65536);
    // The newest block grows past the heap's end: it may not extend in place.
    last.resize(200 * 1024, 3);
    let small_after = vec![4u8; 64];
    let large_after = vec![5u8; 300 * 1024];
    !overlaps(&last, foreign)
        && !overlaps(&small_after, foreign)
        && !overlaps(&large_after, foreign)
        && last.first() == Some(&1)
        && last.iter().skip(1).all(|b| *b == 3)
        && small_before.iter().all(|b| *b == 2)
        && small_after.iter().all(|b| *b == 4)
        && large_after.iter().all(|b| *b == 5)
}

impl Authenticator for Allocator {
    fn authenticate(_cred: &Credential, _ctx: &Context) -> Result<Claims, Deny> {
        // `foreign-grow` first: it needs the heap's end close by, before
        // `big` has grown memory far past what the later checks use.
        let checks: [(&str, fn() -> bool); 8] = [
            ("foreign-grow", foreign_grow),
            ("aligned", aligned),
            ("disjoint", disjoint),
            ("grow-last", grow_last),
            ("grow-moved", grow_moved),
            ("reuse-last", reuse_last),
            ("zeroed", zeroed),
            ("big", big),
        ];
        let mut claims = Claims::new("allocator");
        for (name, check) in checks {
            if check() {
                claims = claims.scope(name);
            }
        }
        Ok(claims)
    }
}

ward_guest::export!(Allocator);
