//! The runtime that refreshes `url` key material in the background: one small
//! thread the gateway owns, apart from any server runtime, so embedding ward
//! needs no runtime of its own.

use tokio::runtime::{Builder, Handle, Runtime};

/// Owns the refresh runtime and stops it without blocking when dropped.
pub(crate) struct Refresher {
    handle: Handle,
    /// Always `Some` until `drop` takes it.
    runtime: Option<Runtime>,
}

impl Refresher {
    pub fn new() -> std::io::Result<Self> {
        let runtime = Builder::new_multi_thread().worker_threads(1).thread_name("ward-keys").enable_all().build()?;
        Ok(Self { handle: runtime.handle().clone(), runtime: Some(runtime) })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        // Dropping a runtime waits for its worker, and tokio panics when that
        // wait would happen on another runtime's thread: the last reference to
        // a gateway may well go on a server worker. Shutting down in the
        // background never waits; the refresh tasks are cancelled at their
        // next await and the worker thread ends on its own.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
