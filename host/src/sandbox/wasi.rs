//! The deny-all WASI 0.2 context: what a WASI-importing plugin sees. It gets
//! no preopened directory, an empty environment and argument list, a closed
//! stdin, stdout/stderr that discard (capped, never read by the host), a wall
//! clock frozen at the request's `now-ms`, a virtual monotonic clock, and the
//! host CSPRNG. Sockets are not linked at all (see `imports.rs`).

use std::time::Duration;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sync};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Bytes of stdout/stderr a guest may write per call before writes fail; the
/// buffer is dropped unread with the store.
const STDIO_CAP: usize = 4096;

/// Per-call WASI state, built lazily on the first WASI call.
pub(crate) struct DenyAllWasi {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl DenyAllWasi {
    pub(crate) fn new(now_ms: u64) -> Self {
        let ctx = WasiCtxBuilder::new()
            .stdout(MemoryOutputPipe::new(STDIO_CAP))
            .stderr(MemoryOutputPipe::new(STDIO_CAP))
            .wall_clock(FrozenWallClock(Duration::from_millis(now_ms)))
            .monotonic_clock(VirtualMonotonicClock::default())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self { ctx, table: ResourceTable::new() }
    }

    pub(crate) fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
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

/// A clock that advances 1 µs per read: loops waiting on time still end,
/// and the guest learns nothing about the host's real timing.
#[derive(Default)]
struct VirtualMonotonicClock(std::sync::atomic::AtomicU64);

impl HostMonotonicClock for VirtualMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000
    }
    fn now(&self) -> u64 {
        self.0.fetch_add(1_000, std::sync::atomic::Ordering::Relaxed)
    }
}

struct Io;
impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links exactly the interfaces in `imports::SERVED_WASI`, and nothing else:
/// deliberately not `wasmtime_wasi::p2::add_to_linker_sync`, which also links sockets.
pub(crate) fn add_deny_all_wasi<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
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
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    sync::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    wasmtime_wasi::p2::bindings::io::error::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    sync::io::poll::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    sync::io::streams::add_to_linker::<T, Io>(l, |t| t.ctx().table)?;
    Ok(())
}
