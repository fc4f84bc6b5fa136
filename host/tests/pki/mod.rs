//! Certificates made at test time (`tls.rs`, `ext_authz/`, `keymaterial.rs`):
//! a CA and the leaves it issues, as PEM.
// Each test binary uses part of it.
#![allow(dead_code)]

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber};

pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf certificate and its key, PEM.
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A server certificate for `localhost` and 127.0.0.1 with this serial.
    pub fn server(&self, serial: u64) -> Leaf {
        self.leaf(&["localhost", "127.0.0.1"], serial, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A server certificate for `names` (the first is also the common name).
    pub fn server_named(&self, names: &[&str]) -> Leaf {
        self.leaf(names, 1, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate (the proxy's).
    pub fn client(&self, name: &str) -> Leaf {
        self.leaf(&[name], 1, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(&self, names: &[&str], serial: u64, usage: ExtendedKeyUsagePurpose) -> Leaf {
        let mut params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![usage];
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf { cert: cert.pem(), key: key.serialize_pem() }
    }
}

impl Leaf {
    /// Writes `<name>.pem` and `<name>.key` (mode 0600) into `dir`.
    pub fn write(&self, dir: &Path, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(dir.join(format!("{name}.pem")), &self.cert).unwrap();
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&key, &self.key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
