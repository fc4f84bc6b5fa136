//! HTTP/1.1 or h2c with prior knowledge, told apart by the first bytes: an
//! HTTP/2 client opens with a fixed 24-byte preface. The bytes read to decide
//! are replayed to hyper by [`Prefixed`]. Over TLS the same runs on the
//! decrypted stream when the client offered no ALPN (nginx's upstream TLS
//! does not).
//!
//! hyper-util's `auto::Builder` does the same detection, but its HTTP/1
//! builder (hyper-util 0.1.21) cannot set `max_header_size`, which
//! `maxHeaderBytes` needs for its 431, and it serves a connection that ends
//! mid-preface as HTTP/1 instead of closing it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
}

/// Reads until the bytes leave the preface (HTTP/1.1) or complete it (h2c).
/// A request line differs from the preface within its first two bytes, so
/// HTTP/1.1 is usually known after one read. The caller bounds the time.
pub(crate) async fn sniff<S: AsyncRead + Unpin>(mut stream: S) -> io::Result<(Protocol, Prefixed<S>)> {
    let mut seen = Vec::with_capacity(H2_PREFACE.len());
    let mut chunk = [0u8; 24];
    loop {
        let want = H2_PREFACE.len() - seen.len();
        let read = stream.read(chunk.get_mut(..want).unwrap_or_default()).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend(chunk.iter().take(read));
        if !H2_PREFACE.starts_with(&seen) {
            return Ok((Protocol::Http1, Prefixed::new(seen, stream)));
        }
        if seen.len() == H2_PREFACE.len() {
            return Ok((Protocol::Http2, Prefixed::new(seen, stream)));
        }
    }
}

/// A stream that first yields bytes already read from it.
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    consumed: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner` as is, for a protocol known without sniffing (ALPN).
    pub(crate) fn unread(inner: S) -> Self {
        Self::new(Vec::new(), inner)
    }

    fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self { prefix, consumed: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let rest = this.prefix.get(this.consumed..).unwrap_or_default();
        if rest.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = rest.len().min(buf.remaining());
        buf.put_slice(rest.get(..n).unwrap_or_default());
        this.consumed += n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
