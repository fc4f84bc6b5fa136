//! Ed25519 keys in the files Haechi's `plugin-keygen`, Node and
//! `openssl genpkey -algorithm ed25519` write: PKCS#8 PEM (`PRIVATE KEY`) for
//! the signer, SPKI PEM (`PUBLIC KEY`) for trust anchors.
//!
//! PEM is parsed here with checked string operations and a size cap; anything
//! that is not an Ed25519 key (RSA, EC, X25519, encrypted, OpenSSH,
//! certificates) is a typed [`KeyError`] naming what was found, never a panic.
//! The DER inside is read by `pkcs8`/`spki` (through ed25519-dalek).
//!
//! The framing is not `pem-rfc7468`'s (ed25519-dalek's `pem` feature), which
//! is RFC 7468's strict grammar: it refuses base64 lines other than 64
//! characters (a key re-wrapped at 76, or on one line as config values often
//! hold it), whitespace at a line's end, a blank line or any text after the
//! END line, all of which ward has always read. Loosening what an operator's
//! key file may look like is not this module's call, nor is tightening it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{PrivateKeyInfo, spki::SubjectPublicKeyInfoRef};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// A PEM key file larger than this is not an Ed25519 key file.
pub const MAX_PEM_BYTES: usize = 16 * 1024;

const ED25519_OID: &str = "1.3.101.112";
/// PKCS#8 v1 header for a 32-byte Ed25519 seed, as Node and OpenSSL write it.
const PKCS8_ED25519_PREFIX: [u8; 16] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
/// SPKI header for a 32-byte Ed25519 public key.
const SPKI_ED25519_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Why a PEM string is not a usable Ed25519 key. Never carries key bytes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `-----BEGIN …-----` / `-----END …-----` block.
    #[error("not a PEM file (no -----BEGIN/END----- block)")]
    NotPem,
    /// The input is larger than [`MAX_PEM_BYTES`].
    #[error("PEM input is {len} bytes; an Ed25519 key file is under {MAX_PEM_BYTES}")]
    TooLarge {
        /// Bytes received.
        len: usize,
    },
    /// A PEM block of another type (e.g. a public key where a private key belongs).
    #[error("PEM block is \"{found}\"; expected \"{expected}\"")]
    WrongPemType {
        /// The label found (shortened).
        found: String,
        /// The label wanted.
        expected: &'static str,
    },
    /// A key for another algorithm.
    #[error("key algorithm is {found}; expected ed25519")]
    WrongAlgorithm {
        /// The algorithm's name (or OID when unknown).
        found: String,
    },
    /// A passphrase-protected PKCS#8 key.
    #[error("the private key is encrypted; ward reads unencrypted PKCS#8 Ed25519 keys")]
    Encrypted,
    /// Base64 or DER inside the PEM block is damaged.
    #[error("PEM body is not a valid {0} structure")]
    Malformed(&'static str),
    /// A small-order public key, which every signature check would have to distrust.
    #[error("the public key is a weak (small-order) ed25519 point")]
    WeakKey,
}

/// An Ed25519 signing key. `Debug` prints no key material; the key is wiped
/// on drop (ed25519-dalek zeroizes `SigningKey`).
pub struct SigningSecret {
    key: SigningKey,
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        Self { key: SigningKey::generate(&mut rand_core::OsRng) }
    }

    /// Wraps a 32-byte seed (test vectors use a fixed one).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(seed) }
    }

    /// Reads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) Ed25519 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = decode_pem(pem)?;
        let der = Zeroizing::new(der);
        match label.as_str() {
            "PRIVATE KEY" => {}
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
            _ => return Err(wrong_label(&label, "PRIVATE KEY")),
        }
        let info = PrivateKeyInfo::try_from(der.as_slice()).map_err(|_| KeyError::Malformed("PKCS#8"))?;
        check_oid(&info.algorithm.oid.to_string())?;
        let key = SigningKey::try_from(info).map_err(|_| KeyError::Malformed("PKCS#8 Ed25519"))?;
        Ok(Self { key })
    }

    /// The PKCS#8 v1 PEM Node and OpenSSL write (48 DER bytes, one base64 line).
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PKCS8_ED25519_PREFIX);
        der.extend_from_slice(self.key.as_bytes());
        let body = Zeroizing::new(STANDARD.encode(der.as_slice()));
        Zeroizing::new(pem_block("PRIVATE KEY", &body))
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs `message` (Ed25519 is deterministic: same key and bytes, same signature).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// Reads an SPKI PEM (`-----BEGIN PUBLIC KEY-----`) Ed25519 public key.
pub fn public_key_from_pem(pem: &str) -> Result<VerifyingKey, KeyError> {
    let (label, der) = decode_pem(pem)?;
    if label != "PUBLIC KEY" {
        return Err(wrong_label(&label, "PUBLIC KEY"));
    }
    let info = SubjectPublicKeyInfoRef::try_from(der.as_slice()).map_err(|_| KeyError::Malformed("SPKI"))?;
    check_oid(&info.algorithm.oid.to_string())?;
    let key = VerifyingKey::try_from(info).map_err(|_| KeyError::Malformed("SPKI Ed25519"))?;
    if key.is_weak() {
        return Err(KeyError::WeakKey);
    }
    Ok(key)
}

/// The SPKI PEM Node and OpenSSL write for `key`.
pub fn public_key_to_pem(key: &VerifyingKey) -> String {
    let mut der = Vec::with_capacity(44);
    der.extend_from_slice(&SPKI_ED25519_PREFIX);
    der.extend_from_slice(key.as_bytes());
    pem_block("PUBLIC KEY", &STANDARD.encode(der))
}

fn pem_block(label: &str, body: &str) -> String {
    let (begin, end) = (format!("-----BEGIN {label}-----\n"), format!("-----END {label}-----\n"));
    // Sized up front: a String that grows leaves copies of a private key in
    // the buffers it freed, where `Zeroizing` cannot reach them.
    let mut out = String::with_capacity(begin.len() + body.len() + body.len().div_ceil(64) + end.len());
    out.push_str(&begin);
    let mut rest = body;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&end);
    out
}

/// Returns the first PEM block's label and decoded body.
fn decode_pem(pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(KeyError::TooLarge { len: pem.len() });
    }
    let (_, after_begin) = pem.split_once("-----BEGIN ").ok_or(KeyError::NotPem)?;
    let (label, body_and_rest) = after_begin.split_once("-----").ok_or(KeyError::NotPem)?;
    let end_marker = format!("-----END {label}-----");
    let (body, _) = body_and_rest.split_once(end_marker.as_str()).ok_or(KeyError::NotPem)?;
    let compact: Zeroizing<String> = Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    // A legacy PEM with headers (Proc-Type/DEK-Info) is an encrypted
    // OpenSSL-format key; its ':' makes the base64 decode fail below.
    let der = STANDARD.decode(compact.as_bytes()).map_err(|_| KeyError::Malformed("base64"))?;
    Ok((label.to_owned(), der))
}

fn wrong_label(label: &str, expected: &'static str) -> KeyError {
    match label {
        "RSA PRIVATE KEY" | "RSA PUBLIC KEY" => KeyError::WrongAlgorithm { found: "rsa".into() },
        "EC PRIVATE KEY" => KeyError::WrongAlgorithm { found: "ec".into() },
        "DSA PRIVATE KEY" => KeyError::WrongAlgorithm { found: "dsa".into() },
        _ => KeyError::WrongPemType { found: label.chars().take(40).collect(), expected },
    }
}

fn check_oid(oid: &str) -> Result<(), KeyError> {
    let name = match oid {
        ED25519_OID => return Ok(()),
        "1.2.840.113549.1.1.1" => "rsa",
        "1.2.840.113549.1.1.10" => "rsa-pss",
        "1.2.840.10045.2.1" => "ec",
        "1.2.840.10040.4.1" => "dsa",
        "1.3.101.110" => "x25519",
        "1.3.101.111" => "x448",
        "1.3.101.113" => "ed448",
        other => return Err(KeyError::WrongAlgorithm { found: format!("OID {other}") }),
    };
    Err(KeyError::WrongAlgorithm { found: name.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_matches_node_layout() -> Result<(), KeyError> {
        let secret = SigningSecret::from_seed(&[7; 32]);
        let pem = secret.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"));
        let again = SigningSecret::from_pkcs8_pem(&pem)?;
        assert_eq!(again.verifying_key(), secret.verifying_key());
        let public = public_key_to_pem(&secret.verifying_key());
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"));
        assert_eq!(public_key_from_pem(&public)?, secret.verifying_key());
        Ok(())
    }

    #[test]
    fn private_pem_is_written_without_growing() {
        let pem = SigningSecret::from_seed(&[7; 32]).to_pkcs8_pem();
        assert_eq!(pem.len(), pem.capacity());
        let long = pem_block("PUBLIC KEY", &"A".repeat(200));
        assert_eq!((long.len(), long.lines().map(str::len).max()), (long.capacity(), Some(64)));
    }

    /// Shapes of key file that RFC 7468's strict grammar refuses and ward
    /// reads (the reason the framing is not `pem-rfc7468`'s).
    #[test]
    fn lenient_framing_is_kept() -> Result<(), KeyError> {
        let secret = SigningSecret::from_seed(&[7; 32]);
        let pem = public_key_to_pem(&secret.verifying_key());
        let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        let (left, right) = body.split_at(30);
        for shape in [
            format!("{pem}\n"),
            format!("{pem}trailing text\n"),
            format!("-----BEGIN PUBLIC KEY-----\n{left}\n{right}\n-----END PUBLIC KEY-----\n"),
            format!("-----BEGIN PUBLIC KEY-----\n  {body}  \n-----END PUBLIC KEY-----"),
        ] {
            assert_eq!(public_key_from_pem(&shape)?, secret.verifying_key(), "{shape:?}");
        }
        Ok(())
    }

    #[test]
    fn debug_redacts() {
        let text = format!("{:?}", SigningSecret::from_seed(&[7; 32]));
        assert_eq!(text, "SigningSecret(<redacted>)");
    }

    #[test]
    fn wrong_types_are_typed_errors() {
        let secret = SigningSecret::from_seed(&[7; 32]);
        let public = public_key_to_pem(&secret.verifying_key());
        assert!(matches!(SigningSecret::from_pkcs8_pem(&public), Err(KeyError::WrongPemType { .. })));
        assert!(matches!(public_key_from_pem(&secret.to_pkcs8_pem()), Err(KeyError::WrongPemType { .. })));
        assert_eq!(public_key_from_pem("hello").err(), Some(KeyError::NotPem));
        assert_eq!(public_key_from_pem("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n").err(), Some(KeyError::Malformed("base64")));
        assert_eq!(
            public_key_from_pem("-----BEGIN RSA PUBLIC KEY-----\nAA==\n-----END RSA PUBLIC KEY-----\n").err(),
            Some(KeyError::WrongAlgorithm { found: "rsa".into() })
        );
        // X25519 SPKI: right shape, wrong OID.
        let x25519 = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEAHwmlmqNXcUL2LByvV7g1mBLUX/cCp7gMOqcd0Y0F9nE=\n-----END PUBLIC KEY-----\n";
        assert_eq!(public_key_from_pem(x25519).err(), Some(KeyError::WrongAlgorithm { found: "x25519".into() }));
    }
}
