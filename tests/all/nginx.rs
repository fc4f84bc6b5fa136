//! ward behind a real nginx: the `auth_request` block of `docs/deployment.md`,
//! read out of that file, in front of an upstream that echoes the identity
//! headers it receives, with ward served in-process (the shared pieces are in
//! `proxy.rs`, the checks every proxy gets in `proxy_checks.rs`). Everything
//! listens on loopback ports picked at run time; nginx runs without root from
//! a temporary directory.
//!
//! Checks: an allow reaches the upstream with ward's identity and never the
//! client's forged `X-Ward-*`; 401 with `WWW-Authenticate`; 403; 503 for a
//! plugin that spins to its deadline and for one that traps; with ward
//! stopped nginx fails closed with 503 at once, and with ward frozen with 503
//! after the documented `proxy_read_timeout`. No deny ever reaches the
//! upstream. ward runs with a route policy: its 403 (`insufficient-scope`)
//! passes through nginx, and the signed assertion reaches the upstream in
//! place of the client's and verifies with PyJWT.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::proxy::{self, Backend, Proxy, get};
use crate::proxy_checks as checks;
use crate::routes::{assertion_section, verified_by_pyjwt, write_keys};

/// The three addresses the documented block names; the test replaces them.
const DOC_WARD: &str = "127.0.0.1:8181";
const DOC_APP: &str = "127.0.0.1:8080";
const DOC_LISTEN: &str = "listen 80;";
const MARKER: &str = "<!-- tested: tests/all/nginx.rs";

/// The documented block with this run's ports, inside the minimal main
/// config that lets nginx run as any user from `dir`.
fn nginx_config(dir: &Path, listen: u16, backend: &Backend) -> String {
    let block = proxy::substitute(
        &proxy::documented_block(MARKER, "nginx"),
        &[(DOC_WARD, &backend.ward.to_string()), (DOC_APP, &backend.app.to_string()), (DOC_LISTEN, &format!("listen 127.0.0.1:{listen};"))],
    );
    let d = dir.display();
    format!(
        "worker_processes 1;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         access_log {d}/access.log;\n\
         client_body_temp_path {d}/client_body;\n\
         proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n\
         {block}\n\
         }}\n"
    )
}

fn start_nginx(backend: &Backend) -> Proxy {
    let binary = proxy::binary("nginx");
    Proxy::start("nginx", |dir, port| {
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, nginx_config(dir, port, backend)).unwrap();
        let globals = format!("daemon off; pid {}/nginx.pid;", dir.display());
        let mut command = Command::new(&binary);
        command.arg("-p").arg(dir).arg("-c").arg(&conf).args(["-e", "stderr", "-g", &globals]);
        command
    })
}

// ---------------------------------------------------------------- the test

#[test]
fn nginx_auth_request_forwards_only_ward_identities_and_fails_closed() {
    // Before anything slow, so a machine without nginx fails at once.
    proxy::binary("nginx");
    // Route policy on: a catch-all that leaves the plugin to the credential
    // (so every check below holds as without routes), an admin path that
    // needs a scope alice lacks, and order reads with the signed assertion.
    let mut backend = Backend::start_with(|site, config| {
        write_keys(site);
        config["assertion"] = assertion_section();
        config["routes"] = json!({ "proxy": "nginx", "rules": [
            {},
            { "pathPrefix": "/admin", "require": { "scopes": ["orders:admin"] } },
            { "pathPrefix": "/orders", "methods": ["GET"], "plugin": "example-token", "assertion": { "audience": "orders-api", "bindRequest": true } },
        ] });
    });
    let nginx = start_nginx(&backend);

    // The upstream receives ward's assertion, never the client's, and it
    // verifies (PyJWT, the keys ward serves) with the request it came with.
    let echoed = checks::allow_forwards_only_ward_identity(&nginx, &backend, &[("X-Ward-Assertion", "forged-assertion")]);
    let assertion = echoed.upstream_values("x-ward-assertion");
    assert_eq!(assertion.len(), 1, "{}", echoed.body);
    let verified = verified_by_pyjwt(&backend, &assertion[0], "orders-api");
    assert_eq!((&verified["claims"]["sub"], &verified["claims"]["path"]), (&json!(backend.alice), &json!("/orders/42")));
    // A route without the assertion: the client's forged one is dropped too.
    let plain = nginx.get("/", &[("X-Api-Key", "ok:bob"), ("X-Ward-Assertion", "forged-assertion")]);
    assert_eq!(plain.status, 200, "{}", nginx.context("plain allow", &plain));
    assert!(plain.upstream_values("x-ward-assertion").iter().all(String::is_empty), "{}", plain.body);
    // Route policy's 403 passes through nginx and reaches no upstream.
    let hits = backend.hits();
    let admin = nginx.get("/admin/users", &[("Authorization", &format!("Bearer {}", backend.good))]);
    assert_eq!(admin.status, 403, "{}", nginx.context("admin without the scope", &admin));
    assert_eq!(backend.hits(), hits);

    checks::allow_forwards_only_ward_identity(&nginx, &backend, &[]);
    checks::allow_without_scopes_or_labels(&nginx);
    checks::denies_pass_through_and_never_forward(&nginx, &backend);

    // ward's own view: each 503 was the plugin's fault, not nginx's.
    let metrics = get(backend.ward.port(), "/metrics", &[]).body;
    let unavailable = |reason: &str| metrics.contains(&format!("ward_decisions_total{{plugin=\"hostile\",outcome=\"unavailable\",reason=\"{reason}\"}} 1"));
    assert!(unavailable("timeout"), "{metrics}");
    assert!(unavailable("trap"), "{metrics}");
    assert!(metrics.contains("ward_decisions_total{plugin=\"hostile\",outcome=\"deny\",reason=\"plugin:insufficient-scope\"} 1"), "{metrics}");
    assert!(metrics.contains("ward_decisions_total{plugin=\"example-token\",outcome=\"deny\",reason=\"insufficient-scope\"} 1"), "{metrics}");

    // The nginx path never changes the allow: the same token still works.
    assert_eq!(nginx.get("/", &[("Authorization", &format!("Bearer {}", backend.good))]).status, 200);

    // ward down: the block maps an unreachable ward to 503.
    checks::ward_down_fails_closed_at_once(&nginx, &mut backend, 503);
    assert!(nginx.log().contains("Connection refused") || nginx.log().contains("connect() failed"), "nginx log:\n{}", nginx.log());

    // ward frozen: the connect succeeds, so `proxy_read_timeout` is the
    // bound. The subrequest's 504 is a 500 to `auth_request`, which the
    // block turns into 503.
    let read_timeout = proxy::documented_seconds(&proxy::documented_block(MARKER, "nginx"), "proxy_read_timeout");
    let answer = checks::ward_frozen_answers_within(&nginx, &backend, read_timeout);
    assert_eq!(answer.status, 503, "{}", nginx.context("ward frozen", &answer));
    assert_eq!(answer.header("Retry-After"), Some("1"), "{}", nginx.context("ward frozen", &answer));
    assert!(nginx.log().contains("upstream timed out"), "nginx log:\n{}", nginx.log());

    checks::audit_is_clean(&backend);
}

// ---------------------------------------------------------------- over mutual TLS

const TLS_MARKER: &str = "<!-- tested: tests/all/nginx.rs (TLS)";
/// Where the documented TLS block keeps its files, and the name in ward's certificate.
const DOC_TLS_DIR: &str = "/etc/nginx/ward/";
const DOC_WARD_NAME: &str = "ward.internal";

/// `openssl` with `args` in `dir`: the certificates are made as an operator
/// would make them, by a different library than the one ward verifies with.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// `<name>.pem` and `<name>.key`: a CA when `ca` is `None`, else a leaf it
/// issues for `san` with `usage`.
fn issue(dir: &Path, name: &str, ca: Option<&str>, san: &str, usage: &str) {
    let (key, pem, subject) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN={name}"));
    let new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", &key, "-subj", &subject];
    let Some(ca) = ca else {
        return openssl(dir, &[&["req", "-x509", "-days", "2", "-out", &pem][..], &new_key].concat());
    };
    let (csr, ext) = (format!("{name}.csr"), format!("{name}.ext"));
    openssl(dir, &[&["req", "-out", &csr][..], &new_key].concat());
    std::fs::write(dir.join(&ext), format!("subjectAltName=DNS:{san}\nextendedKeyUsage={usage}\n")).unwrap();
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(dir, &["x509", "-req", "-days", "2", "-in", &csr, "-CA", &ca_pem, "-CAkey", &ca_key, "-CAcreateserial", "-extfile", &ext, "-out", &pem]);
}

/// The first nginx block with its `location = /_ward` replaced by the
/// documented TLS one, naming this run's files.
fn nginx_tls_config(dir: &Path, listen: u16, backend: &Backend, certs: &Path) -> String {
    let plain = nginx_config(dir, listen, backend);
    let start = plain.find("location = /_ward {").expect("the nginx block has a /_ward location");
    let end = start + plain[start..].find("\n    }\n").expect("the /_ward location is closed") + "\n    }\n".len();
    let certs = format!("{}/", certs.display());
    let tls = proxy::substitute(&proxy::documented_block(TLS_MARKER, "nginx"), &[(DOC_WARD_NAME, "ward.test")]);
    assert_eq!(tls.matches(DOC_TLS_DIR).count(), 3, "the TLS block names its three files under {DOC_TLS_DIR}:\n{tls}");
    format!("{}{}\n{}", &plain[..start], tls.replace(DOC_TLS_DIR, &certs), &plain[end..])
}

#[test]
fn nginx_reaches_ward_over_mutual_tls_with_its_client_certificate() {
    proxy::binary("nginx");
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    issue(dir, "ca", None, "", "");
    issue(dir, "ward", Some("ca"), "ward.test", "serverAuth");
    issue(dir, "proxies", None, "", "");
    issue(dir, "nginx", Some("proxies"), "nginx", "clientAuth");
    std::fs::set_permissions(dir.join("ward.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let backend = Backend::start_with(|_, config| {
        config["allowDirs"] = serde_json::json!([dir]);
        config["server"] =
            serde_json::json!({ "tls": { "certFile": dir.join("ward.pem"), "keyFile": dir.join("ward.key"), "clientCaFile": dir.join("proxies.pem") } });
    });
    let binary = proxy::binary("nginx");
    let nginx = Proxy::start("nginx", |work, port| {
        let conf = work.join("nginx.conf");
        std::fs::write(&conf, nginx_tls_config(work, port, &backend, dir)).unwrap();
        let globals = format!("daemon off; pid {}/nginx.pid;", work.display());
        let mut command = Command::new(&binary);
        command.arg("-p").arg(work).arg("-c").arg(&conf).args(["-e", "stderr", "-g", &globals]);
        command
    });

    // Every answer comes through the TLS hop: ward only admits nginx's certificate.
    checks::allow_forwards_only_ward_identity(&nginx, &backend, &[]);
    checks::denies_pass_through_and_never_forward(&nginx, &backend);

    // A plaintext client on ward's port gets no HTTP answer.
    let mut plain = std::net::TcpStream::connect(backend.ward).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    std::io::Write::write_all(&mut plain, b"GET /auth HTTP/1.1\r\nHost: ward\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "plaintext got an HTTP answer: {}", String::from_utf8_lossy(&answer));

    // ward's own count: the plaintext probe failed its handshake, nginx never did.
    let metrics = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert", "ca.pem", "--cert", "nginx.pem", "--key", "nginx.key"])
        .args(["--resolve", &format!("ward.test:{}:127.0.0.1", backend.ward.port())])
        .arg(format!("https://ward.test:{}/metrics", backend.ward.port()))
        .current_dir(dir)
        .output()
        .expect("curl is installed");
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(metrics.contains("ward_tls_handshake_failures_total{reason=\"protocol\"} 1\n"), "{metrics}");
    assert!(metrics.contains("ward_tls_handshake_failures_total{reason=\"client-cert\"} 0\n"), "{metrics}");
    checks::audit_is_clean(&backend);
}
