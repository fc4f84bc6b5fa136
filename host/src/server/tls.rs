//! The listener's TLS configuration, built from PEM: rustls with the `ring`
//! provider (the one key-material fetching already uses, `keymaterial/tls.rs`),
//! TLS 1.3 and 1.2 only, ALPN `h2` then `http/1.1`, and, with a client CA,
//! a client certificate required and verified against it (mutual TLS).
//!
//! Each refusal names which of the three files is at fault, so the config
//! room can report it at its JSON path; no message carries key material.

use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{InconsistentKeys, RootCertStore, ServerConfig};
use zeroize::Zeroizing;

/// The ALPN protocols offered, in the server's order of preference: gRPC
/// `ext_authz` needs `h2`; nginx and most health checkers speak `http/1.1`.
const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The PEM files of `server.tls`, as read.
pub struct TlsPem {
    /// The certificate chain, leaf first.
    pub cert_chain: Vec<u8>,
    /// The private key of the leaf (PKCS#8, PKCS#1 or SEC1).
    pub key: Zeroizing<Vec<u8>>,
    /// With it, only clients presenting a certificate issued under one of
    /// these CAs complete the handshake.
    pub client_ca: Option<Vec<u8>>,
}

/// Which file a [`TlsError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// The certificate chain.
    Cert,
    /// The private key.
    Key,
    /// The client CA bundle.
    ClientCa,
}

/// Why the files do not make a TLS configuration. `code()` is stable.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The chain file has no `CERTIFICATE` block, or one that is not PEM.
    #[error("holds no PEM CERTIFICATE block")]
    NoCertificate,
    /// The leaf certificate does not parse.
    #[error("the first certificate is unusable: {0}")]
    BadCertificate(String),
    /// The key file has no PEM private key block.
    #[error("holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey,
    /// rustls cannot sign with the key (an unsupported algorithm or curve).
    #[error("the private key is unusable: {0}")]
    BadKey(String),
    /// The key is not the leaf certificate's.
    #[error("does not match the first certificate of the chain")]
    KeyMismatch,
    /// The client CA file has no usable `CERTIFICATE` block.
    #[error("holds no usable PEM CERTIFICATE block: {0}")]
    BadClientCa(String),
}

impl TlsError {
    /// The stable code: `tls-cert`, `tls-key`, `tls-key-mismatch` or `tls-client-ca`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCertificate | Self::BadCertificate(_) => "tls-cert",
            Self::NoKey | Self::BadKey(_) => "tls-key",
            Self::KeyMismatch => "tls-key-mismatch",
            Self::BadClientCa(_) => "tls-client-ca",
        }
    }

    /// The file at fault.
    pub fn file(&self) -> TlsFile {
        match self {
            Self::NoCertificate | Self::BadCertificate(_) => TlsFile::Cert,
            Self::NoKey | Self::BadKey(_) | Self::KeyMismatch => TlsFile::Key,
            Self::BadClientCa(_) => TlsFile::ClientCa,
        }
    }
}

/// Builds the listener's configuration; `ward check` calls it too, so a bad
/// file fails before `ward serve` would start.
pub fn server_config(pem: &TlsPem) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates(&pem.cert_chain).filter(|chain| !chain.is_empty()).ok_or(TlsError::NoCertificate)?;
    let key = PrivateKeyDer::from_pem_slice(&pem.key).map_err(|_| TlsError::NoKey)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        // Only fails for a provider without suites for these versions; ring has them.
        .map_err(|err| TlsError::BadKey(err.to_string()))?;
    let builder = match &pem.client_ca {
        None => builder.with_no_client_auth(),
        Some(bundle) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(bundle).filter(|certs| !certs.is_empty()).ok_or_else(|| TlsError::BadClientCa("none found".to_owned()))? {
                roots.add(cert).map_err(|err| TlsError::BadClientCa(err.to_string()))?;
            }
            // No `allow_unauthenticated`: without a valid certificate the
            // handshake fails, before any HTTP byte is read.
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().map_err(|err| TlsError::BadClientCa(err.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|err| match err {
        rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError::KeyMismatch,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => TlsError::BadCertificate(err.to_string()),
        other => TlsError::BadKey(other.to_string()),
    })?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Every `CERTIFICATE` block; `None` if one is not valid PEM.
fn certificates(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, pem::Error>>().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn issued(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        (rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap().self_signed(&key).unwrap(), key)
    }

    fn pem(cert: &rcgen::Certificate, key: &rcgen::KeyPair, client_ca: Option<String>) -> TlsPem {
        TlsPem { cert_chain: cert.pem().into_bytes(), key: Zeroizing::new(key.serialize_pem().into_bytes()), client_ca: client_ca.map(String::into_bytes) }
    }

    #[test]
    fn a_matching_pair_builds_with_both_alpn_protocols() {
        let (cert, key) = issued("ward.test");
        let config = server_config(&pem(&cert, &key, Some(cert.pem()))).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn each_bad_file_is_named_with_its_code() {
        let (cert, key) = issued("ward.test");
        let (_, other_key) = issued("other.test");
        let cases = [
            (pem(&cert, &other_key, None), "tls-key-mismatch", TlsFile::Key),
            (TlsPem { cert_chain: b"garbage".to_vec(), ..pem(&cert, &key, None) }, "tls-cert", TlsFile::Cert),
            (TlsPem { key: Zeroizing::new(cert.pem().into_bytes()), ..pem(&cert, &key, None) }, "tls-key", TlsFile::Key),
            (pem(&cert, &key, Some("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_owned())), "tls-client-ca", TlsFile::ClientCa),
            (pem(&cert, &key, Some(String::new())), "tls-client-ca", TlsFile::ClientCa),
        ];
        for (files, code, file) in cases {
            let err = server_config(&files).unwrap_err();
            assert_eq!((err.code(), err.file()), (code, file), "{err}");
        }
    }
}
