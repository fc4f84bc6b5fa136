//! Name resolution, behind a trait so tests can make a name point at a
//! private address without touching the machine's DNS or hosts file.
//!
//! The fetcher calls the resolver once per fetch and connects only to
//! addresses from that one answer, so a second, different answer (DNS
//! rebinding) has nothing to change.

use std::io;
use std::net::{IpAddr, ToSocketAddrs};

/// Resolves a host name to addresses. Called on a blocking thread
/// (`tokio::task::spawn_blocking`), so an implementation may block.
pub trait Resolve: Send + Sync + 'static {
    /// Every address `host` has; `port` is passed for resolvers that want it.
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`: hosts file, then DNS).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>> {
        Ok((host, port).to_socket_addrs()?.map(|addr| addr.ip()).collect())
    }
}
