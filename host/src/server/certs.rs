//! The certificates the listener serves, and their re-reading at SIGHUP.
//!
//! The server does not know where the files are: a [`CertSource`] (the config
//! room's, for `server.tls`) reads and builds them. Each new connection
//! takes the configuration in place when it is accepted; a re-read that
//! fails leaves that configuration in place (fail closed: never a listener
//! without TLS, never a half-read pair) and is logged and counted.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Why a [`CertSource`] gave no configuration: a stable code and a message
/// that names the file (never its content).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CertRefusal {
    /// Stable code, e.g. `config-invalid`.
    pub code: &'static str,
    /// What is wrong, and where.
    pub message: String,
}

/// Reads the listener's certificates: once at start, then at every SIGHUP.
pub trait CertSource: Send + Sync {
    /// The configuration to serve new connections with
    /// ([`crate::server::tls_server_config`] builds one from PEM).
    fn load(&self) -> Result<Arc<ServerConfig>, CertRefusal>;
}

/// `ServerOptions::tls`: the configuration in use and its source. Clones
/// share both.
#[derive(Clone)]
pub struct ListenerTls {
    inner: Arc<Inner>,
}

struct Inner {
    source: Box<dyn CertSource>,
    current: ArcSwap<ServerConfig>,
    applied: AtomicU64,
    refused: AtomicU64,
}

impl ListenerTls {
    /// Loads the first configuration; a refusal means the server must not start.
    pub fn new(source: Box<dyn CertSource>) -> Result<Self, CertRefusal> {
        let first = source.load()?;
        Ok(Self { inner: Arc::new(Inner { source, current: ArcSwap::new(first), applied: AtomicU64::new(0), refused: AtomicU64::new(0) }) })
    }

    /// Reads the source again and swaps the result in for the connections
    /// accepted from now on; on a refusal the configuration in use stays.
    /// Blocking (it reads files).
    pub fn reload(&self) -> Result<(), CertRefusal> {
        match self.inner.source.load() {
            Ok(next) => {
                self.inner.current.store(next);
                self.inner.applied.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(refusal) => {
                self.inner.refused.fetch_add(1, Ordering::Relaxed);
                Err(refusal)
            }
        }
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.inner.current.load_full())
    }

    /// Re-reads (`reload`) that were applied and refused.
    pub(crate) fn reloads(&self) -> (u64, u64) {
        (self.inner.applied.load(Ordering::Relaxed), self.inner.refused.load(Ordering::Relaxed))
    }
}

impl fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ListenerTls")
    }
}

/// Options compare equal when they share one listener configuration.
impl PartialEq for ListenerTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for ListenerTls {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use zeroize::Zeroizing;

    use super::*;
    use crate::server::tls::{TlsPem, server_config};

    /// Hands out the configurations it is given, one per load; empty: refused.
    struct Queue(Mutex<Vec<Arc<ServerConfig>>>);

    impl CertSource for Queue {
        fn load(&self) -> Result<Arc<ServerConfig>, CertRefusal> {
            self.0.lock().unwrap().pop().ok_or_else(|| CertRefusal { code: "config-invalid", message: "server.tls.keyFile: refused".to_owned() })
        }
    }

    fn config() -> Arc<ServerConfig> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["ward.test".to_owned()]).unwrap().self_signed(&key).unwrap();
        server_config(&TlsPem { cert_chain: cert.pem().into_bytes(), key: Zeroizing::new(key.serialize_pem().into_bytes()), client_ca: None }).unwrap()
    }

    #[test]
    fn a_reload_swaps_and_a_refused_one_keeps_the_configuration_in_use() {
        let (first, second) = (config(), config());
        let tls = ListenerTls::new(Box::new(Queue(Mutex::new(vec![second.clone(), first.clone()])))).unwrap();
        assert!(Arc::ptr_eq(&tls.inner.current.load_full(), &first));
        tls.reload().unwrap();
        assert!(Arc::ptr_eq(&tls.inner.current.load_full(), &second));
        assert_eq!(tls.reload().unwrap_err().code, "config-invalid");
        assert!(Arc::ptr_eq(&tls.inner.current.load_full(), &second), "a refused re-read replaced the certificates in use");
        assert_eq!(tls.reloads(), (1, 1));
        assert!(ListenerTls::new(Box::new(Queue(Mutex::new(Vec::new())))).is_err(), "a source that refuses at start gives no listener");
    }
}
