//! The deny-all WASI 0.2 context: what a WASI-importing plugin sees. It gets
//! no preopened directory, an empty environment and argument list, a closed
//! stdin, stdout/stderr that discard (capped, never read by the host), a wall
//! clock frozen at the request's `now-ms`, a virtual monotonic clock, and the
//! host CSPRNG in small amounts. Sockets are not linked at all (see
//! `imports.rs`).
//!
//! No function served here waits or allocates in proportion to what the guest
//! asks for. A host function runs outside fuel and epoch interruption, so a
//! wait inside one would outlive the call's deadline (wasmtime-wasi's own
//! clocks sleep on real time); this module therefore serves
//! `wasi:clocks/monotonic-clock` and `wasi:io/poll` itself:
//! - a clock subscription is ready at once, and the virtual clock jumps to its
//!   deadline, so a guest's `sleep` returns immediately and reads as if the
//!   time had passed (deterministic, and no real time is learnt);
//! - `poll` and `block` never wait: a pollable that is not ready when asked
//!   is a trap (`trap`). Every pollable a guest can obtain here (clock
//!   subscriptions, the closed stdin, the discarding stdout/stderr) is ready
//!   at once, so this is a backstop, not a behaviour plugins meet.
//!
//! Host-side allocations are capped: random bytes ([`MAX_RANDOM_BYTES`]),
//! resources the guest may hold ([`MAX_RESOURCES`]), stdout/stderr
//! ([`STDIO_CAP`]); byte lists a guest passes in are bounded by the store's
//! hostcall fuel (`limits::MAX_RESULT_BYTES`).

use std::time::Duration;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::poll as async_poll;
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sync};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::blocking::ready_now;

/// Bytes of stdout/stderr a guest may write per call before writes fail; the
/// buffer is dropped unread with the store.
const STDIO_CAP: usize = 4096;

/// The most bytes one `get-random-bytes` (or insecure) call may ask for; a
/// larger request is a trap. wasmtime-wasi's default (64 MiB) let one call
/// allocate that much on the host, outside the plugin's memory limit.
/// wasi-libc's `getentropy` asks for at most 256, Rust's hash seeds for 16.
pub(crate) const MAX_RANDOM_BYTES: u64 = 4096;

/// Host-side resources (streams, pollables, errors) a guest may hold at once
/// in one call; the next one is a trap. Each costs host memory that the
/// memory limit does not see, and a plugin needs a handful.
pub(crate) const MAX_RESOURCES: usize = 1024;

/// Per-call WASI state, built lazily on the first WASI call.
pub(crate) struct DenyAllWasi {
    ctx: WasiCtx,
    table: ResourceTable,
    /// Nanoseconds on the virtual monotonic clock.
    monotonic_ns: u64,
}

impl DenyAllWasi {
    pub(crate) fn new(now_ms: u64) -> Self {
        // The context's own monotonic clock is never linked (see
        // `VirtualClock`), so it is not set here.
        let ctx = WasiCtxBuilder::new()
            .stdout(MemoryOutputPipe::new(STDIO_CAP))
            .stderr(MemoryOutputPipe::new(STDIO_CAP))
            .wall_clock(FrozenWallClock(Duration::from_millis(now_ms)))
            .max_random_size(MAX_RANDOM_BYTES)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Self { ctx, table, monotonic_ns: 0 }
    }

    pub(crate) fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }

    fn clock(&mut self) -> VirtualClock<'_> {
        VirtualClock { now_ns: &mut self.monotonic_ns, table: &mut self.table }
    }
}

/// A store's data that carries the deny-all context.
pub(crate) trait DenyAllView: WasiView {
    /// The call's deny-all WASI state.
    fn deny_all(&mut self) -> &mut DenyAllWasi;
}

/// The guest's wall clock reads the request time the host passed in.
struct FrozenWallClock(Duration);

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// `wasi:clocks/monotonic-clock`, virtual: it starts at 0, advances 1 µs per
/// read (loops waiting on time still end), and jumps to a subscription's
/// deadline, which is then ready at once.
struct VirtualClock<'a> {
    now_ns: &'a mut u64,
    table: &'a mut ResourceTable,
}

/// What a virtual read advances the clock by.
const TICK_NS: u64 = 1_000;

impl VirtualClock<'_> {
    fn elapse_until(&mut self, deadline_ns: u64) -> wasmtime::Result<Resource<DynPollable>> {
        *self.now_ns = (*self.now_ns).max(deadline_ns);
        let elapsed = self.table.push(Elapsed)?;
        subscribe(self.table, elapsed)
    }
}

impl clocks::monotonic_clock::Host for VirtualClock<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        *self.now_ns = self.now_ns.saturating_add(TICK_NS);
        Ok(*self.now_ns)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(TICK_NS)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.elapse_until(when)
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let deadline = self.now_ns.saturating_add(duration);
        self.elapse_until(deadline)
    }
}

/// A clock subscription: the virtual clock already reached its deadline.
struct Elapsed;

#[wasmtime_wasi::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

struct VirtualClocks;
impl HasData for VirtualClocks {
    type Data<'a> = VirtualClock<'a>;
}

/// `wasi:io/poll` that never waits: each readiness future is polled once,
/// and one that is not ready is a trap rather than a wait.
struct NonBlockingPoll<'a>(&'a mut ResourceTable);

/// Why a `poll` or `block` trapped; the message names no guest data.
#[derive(Debug, thiserror::Error)]
#[error("a pollable was not ready and the sandbox never waits")]
struct WouldBlock;

impl sync::io::poll::Host for NonBlockingPoll<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        ready_now(async_poll::Host::poll(self.0, pollables)).ok_or(WouldBlock)?
    }
}

impl sync::io::poll::HostPollable for NonBlockingPoll<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        Ok(ready_now(async_poll::HostPollable::ready(self.0, pollable)).transpose()?.unwrap_or(false))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        ready_now(async_poll::HostPollable::block(self.0, pollable)).ok_or(WouldBlock)?
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.0, pollable)
    }
}

struct Poller;
impl HasData for Poller {
    type Data<'a> = NonBlockingPoll<'a>;
}

struct Io;
impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links exactly the interfaces in `imports::SERVED_WASI`, and nothing else:
/// deliberately not `wasmtime_wasi::p2::add_to_linker_sync`, which also links
/// sockets and the real-time clock and poll.
pub(crate) fn add_deny_all_wasi<T: DenyAllView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::random::WasiRandom;

    let l = linker;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, VirtualClocks>(l, |t| t.deny_all().clock())?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    // The async forms of these two: their sync forms run each call through
    // `wasmtime_wasi::runtime::in_tokio`, which blocks on the tokio runtime
    // and so panics on `ward serve`'s I/O threads, where calls run. What they
    // serve here (no descriptors; the discarding or closed stdio) is ready
    // at once, so the async form never waits either.
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    wasmtime_wasi::p2::bindings::io::streams::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    wasmtime_wasi::p2::bindings::io::error::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    sync::io::poll::add_to_linker::<T, Poller>(l, |t| NonBlockingPoll(t.ctx().table))?;
    Ok(())
}
