//! The TLS handshake of one accepted connection, before any HTTP: a client
//! that does not complete it (plaintext on the TLS port, no or a bad client
//! certificate under mutual TLS, too slow) is closed here, never reaches a
//! route, and is counted under a static reason.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::server::TlsStream;
use tracing::debug;

use super::certs::ListenerTls;
use super::metrics::{HandshakeFailure, Metrics};
use super::sniff::Protocol;

/// Runs the handshake within `within`; `None` when it failed (counted).
/// The protocol is the one ALPN chose, if the client offered any.
pub(crate) async fn accept(tls: &ListenerTls, stream: TcpStream, within: Duration, metrics: &Metrics) -> Option<(TlsStream<TcpStream>, Option<Protocol>)> {
    let failed = |reason: HandshakeFailure| {
        metrics.handshake_failed(reason);
        debug!(reason = reason.label(), "TLS handshake failed");
        None
    };
    match timeout(within, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => {
            let protocol = match stream.get_ref().1.alpn_protocol() {
                Some(b"h2") => Some(Protocol::Http2),
                Some(b"http/1.1") => Some(Protocol::Http1),
                _ => None,
            };
            Some((stream, protocol))
        }
        Ok(Err(err)) => failed(classify(&err)),
        Err(_) => failed(HandshakeFailure::Timeout),
    }
}

/// rustls's error inside tokio-rustls's `io::Error`, reduced to a label.
fn classify(err: &io::Error) -> HandshakeFailure {
    match err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertificate(_)) => HandshakeFailure::ClientCert,
        Some(_) => HandshakeFailure::Protocol,
        // The peer went away mid-handshake, or a socket error.
        None => HandshakeFailure::Io,
    }
}
