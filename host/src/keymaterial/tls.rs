//! The TLS client configuration: rustls with the `ring` provider (no C/CMake
//! build step, unlike aws-lc-rs), TLS 1.2 and 1.3 with rustls's safe default
//! suites, and trust anchors from webpki-roots plus the operator's `caFile`.
//! Certificates are verified by rustls's webpki verifier against the URL's
//! host name, never against the address connected to.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use super::error::KeyMaterialError;
use super::options::FetchPolicy;
use crate::operator_file::{self, FileRefusal};

/// The largest CA bundle read; Mozilla's whole set as PEM is about 250 KiB.
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

pub(crate) fn client_config(policy: &FetchPolicy) -> Result<Arc<ClientConfig>, KeyMaterialError> {
    let mut roots = RootCertStore::empty();
    if policy.public_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = &policy.ca_file {
        for cert in read_ca_file(path)? {
            roots.add(cert).map_err(|err| ca_error(path, format!("unusable certificate: {err}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // Only fails for a provider without usable suites; ring's has them.
        .map_err(|err| KeyMaterialError::Setup { reason: err.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, KeyMaterialError> {
    // Named in ward.json, so regular files only (a FIFO would hang the
    // fetcher's set-up); opened by path, like the audit log.
    let pem =
        operator_file::open_ambient(path, cap_std::ambient_authority()).and_then(|file| file.read(MAX_CA_FILE_BYTES)).map_err(|refusal| match refusal {
            FileRefusal::Unreadable(kind) => ca_error(path, kind.to_string()),
            FileRefusal::TooLarge(_) => ca_error(path, format!("larger than {MAX_CA_FILE_BYTES} bytes")),
            other => ca_error(path, other.to_string()),
        })?;
    let certs =
        CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|_| ca_error(path, "not a PEM bundle of certificates".to_owned()))?;
    if certs.is_empty() {
        return Err(ca_error(path, "holds no CERTIFICATE block".to_owned()));
    }
    Ok(certs)
}

fn ca_error(path: &Path, reason: String) -> KeyMaterialError {
    KeyMaterialError::CaFile { path: path.display().to_string(), reason }
}
