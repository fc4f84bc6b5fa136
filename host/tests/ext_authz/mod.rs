//! Envoy's `ext_authz`, both ways, against the same fake gates as the rest of
//! `server.rs`: the gRPC `Authorization/Check` service through a real HTTP/2
//! gRPC client built from the same protos (envoy-types, tonic), and the
//! request shape of Envoy's HTTP service (`path_prefix` + original path).

use std::collections::BTreeMap;
use std::time::Duration;

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HeaderAppendAction, HttpResponse};
use envoy_types::pb::envoy::config::core::v3::{HeaderMap as PbHeaderMap, HeaderValue as PbHeader};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request as PbRequest};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use http_body_util::Full;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::*;

// ---------------------------------------------------------------- clients

async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
}

/// A `CheckRequest` as Envoy builds it: pseudo headers and the request's
/// headers in the `headers` map, the path and host again in their fields.
fn envoy_check(headers: &[(&str, &str)]) -> CheckRequest {
    let mut map: std::collections::HashMap<String, String> =
        [(":method", "GET"), (":path", "/orders/1"), (":authority", "shop.example")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    map.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let http = HttpRequest {
        method: "GET".into(),
        path: "/orders/1".into(),
        host: "shop.example".into(),
        protocol: "HTTP/1.1".into(),
        headers: map,
        ..HttpRequest::default()
    };
    CheckRequest { attributes: Some(AttributeContext { request: Some(PbRequest { http: Some(http), ..PbRequest::default() }), ..AttributeContext::default() }) }
}

async fn check(addr: SocketAddr, request: CheckRequest) -> Result<CheckResponse, Status> {
    AuthorizationClient::new(channel(addr).await).check(request).await.map(tonic::Response::into_inner)
}

/// The headers of an answer as name → (value, append_action).
fn set_headers(options: &[envoy_types::ext_authz::v3::pb::HeaderValueOption]) -> BTreeMap<String, (String, i32)> {
    options
        .iter()
        .map(|o| {
            #[allow(deprecated)]
            let append = &o.append;
            assert!(append.is_none(), "the deprecated append is left unset: append_action rules");
            let h = o.header.as_ref().unwrap();
            (h.key.clone(), (h.value.clone(), o.append_action))
        })
        .collect()
}

const OVERWRITE: i32 = HeaderAppendAction::OverwriteIfExistsOrAdd as i32;

// ---------------------------------------------------------------- allow

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_allow_sets_the_auth_identity_headers_overwriting_and_removes_other_forged_ones() {
    let gate = FakeGate::new(|_| allow());
    let server = Server::start(gate.clone(), options()).await;
    let forged = [("authorization", "Bearer good"), ("x-ward-id", "admin"), ("x-ward-scopes", "root"), ("x-ward-deny", "x"), ("x-ward-role", "admin")];
    let response = check(server.addr, envoy_check(&forged)).await.unwrap();
    assert_eq!(response.status.as_ref().unwrap().code, Code::Ok as i32);
    let Some(HttpResponse::OkResponse(ok)) = response.http_response else { panic!("not an ok_response: {:?}", response.http_response) };

    // The very values /auth sets, each replacing whatever the request carries.
    let auth = get(server.addr, "/auth", &[("authorization", "Bearer good")]).await;
    let expected: BTreeMap<String, (String, i32)> = ["x-ward-id", "x-ward-provider", "x-ward-type", "x-ward-scopes", "x-ward-labels"]
        .iter()
        .map(|name| (name.to_string(), (auth.headers()[*name].to_str().unwrap().to_owned(), OVERWRITE)))
        .collect();
    assert_eq!(set_headers(&ok.headers), expected);

    // Every other forged x-ward-* is removed; none that ward sets is listed.
    let mut removed = ok.headers_to_remove.clone();
    removed.sort();
    assert_eq!(removed, ["x-ward-deny", "x-ward-role"]);
    assert!(ok.response_headers_to_add.is_empty() && ok.query_parameters_to_set.is_empty());

    // The gate saw the credential and no client x-ward-* header, as at
    // /auth; only ward's own target headers, from Envoy's attributes, for
    // route policy.
    let seen = gate.seen.lock().unwrap()[0].clone();
    assert_eq!(seen["authorization"], "Bearer good");
    assert_eq!(
        (&seen["x-ward-target-method"], &seen["x-ward-target-path"], &seen["x-ward-target-host"]),
        (&"GET".parse().unwrap(), &"/orders/1".parse().unwrap(), &"shop.example".parse().unwrap())
    );
    assert!(
        seen.keys().all(|name| !name.as_str().starts_with(':') && (!name.as_str().starts_with("x-ward-") || name.as_str().starts_with("x-ward-target-"))),
        "{seen:?}"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_raw_header_map_is_routed_like_the_map_and_repeated_headers_stay_repeated() {
    let gate = FakeGate::new(|headers| if headers.get_all("x-api-key").iter().count() == 1 { allow() } else { deny(DenyReason::MalformedCredential) });
    let server = Server::start(gate.clone(), options()).await;
    let raw = |pairs: &[(&str, &[u8])]| {
        let headers = pairs.iter().map(|(k, v)| PbHeader { key: k.to_string(), raw_value: v.to_vec(), ..PbHeader::default() }).collect();
        let http = HttpRequest { header_map: Some(PbHeaderMap { headers }), ..HttpRequest::default() };
        CheckRequest {
            attributes: Some(AttributeContext { request: Some(PbRequest { http: Some(http), ..PbRequest::default() }), ..AttributeContext::default() }),
        }
    };
    let one = check(server.addr, raw(&[(":path", b"/x"), ("x-api-key", b"k1")])).await.unwrap();
    assert!(matches!(one.http_response, Some(HttpResponse::OkResponse(_))));
    let two = check(server.addr, raw(&[("x-api-key", b"k1"), ("x-api-key", b"k2")])).await.unwrap();
    let Some(HttpResponse::DeniedResponse(denied)) = two.http_response else { panic!("{two:?}") };
    assert_eq!(denied.status.unwrap().code, 401);
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- deny

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_deny_is_the_auth_401_with_www_authenticate_or_403_with_the_same_headers() {
    let cases = [
        (DenyReason::Plugin(PluginDeny::Expired), 401, Code::Unauthenticated, "unauthorized\n"),
        (DenyReason::Plugin(PluginDeny::InsufficientScope), 403, Code::PermissionDenied, "forbidden\n"),
    ];
    for (reason, http_status, code, body) in cases {
        for deny_reason_header in [false, true] {
            let server = Server::start(FakeGate::new(move |_| deny(reason)), ServerOptions { deny_reason_header, ..options() }).await;
            let response = check(server.addr, envoy_check(&[("authorization", "Bearer bad"), ("x-ward-id", "admin")])).await.unwrap();
            assert_eq!(response.status.as_ref().unwrap().code, code as i32, "{reason:?}");
            let Some(HttpResponse::DeniedResponse(denied)) = response.http_response else { panic!("{response:?}") };
            assert_eq!(denied.status.unwrap().code, http_status);
            assert_eq!(denied.body, body);
            // /auth's headers for the same deny, minus its content type (Envoy
            // sets its own on the local reply).
            let auth = get(server.addr, "/auth", &[("authorization", "Bearer bad")]).await;
            assert_eq!(auth.status().as_u16(), http_status as u16);
            let expected: BTreeMap<String, (String, i32)> = auth
                .headers()
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "content-type" | "content-length" | "date"))
                .map(|(name, value)| (name.to_string(), (value.to_str().unwrap().to_owned(), OVERWRITE)))
                .collect();
            let got = set_headers(&denied.headers);
            assert_eq!(got, expected, "{reason:?}");
            assert_eq!(got.contains_key("www-authenticate"), http_status == 401);
            assert_eq!(got.get("x-ward-deny").map(|(v, _)| v.as_str()), deny_reason_header.then(|| reason.code()));
            server.stop().await.unwrap();
        }
    }
}

// ---------------------------------------------------------------- fail closed

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_not_ready_over_capacity_and_faults_are_unavailable_errors() {
    let gate = FakeGate::new(|_| deny(DenyReason::OverCapacity));
    gate.ready.store(false, Ordering::SeqCst);
    let server = Server::start(gate.clone(), options()).await;
    let not_ready = check(server.addr, envoy_check(&[("authorization", "Bearer t")])).await.unwrap_err();
    assert_eq!((not_ready.code(), not_ready.message()), (Code::Unavailable, "ward: not-ready"));
    gate.ready.store(true, Ordering::SeqCst);
    let over = check(server.addr, envoy_check(&[("authorization", "Bearer t")])).await.unwrap_err();
    assert_eq!((over.code(), over.message()), (Code::Unavailable, "ward: over-capacity"));
    server.stop().await.unwrap();

    let server = Server::start(FakeGate::new(|_| deny(DenyReason::Trap)), options()).await;
    let trap = check(server.addr, envoy_check(&[])).await.unwrap_err();
    assert_eq!((trap.code(), trap.message()), (Code::Unavailable, "ward: trap"));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_a_gate_slower_than_request_timeout_is_unavailable() {
    let gate = FakeGate::new(|_| {
        std::thread::sleep(Duration::from_millis(800));
        allow()
    });
    let server = Server::start(gate, ServerOptions { request_timeout: Duration::from_millis(100), ..options() }).await;
    let started = Instant::now();
    let error = check(server.addr, envoy_check(&[])).await.unwrap_err();
    assert_eq!((error.code(), error.message()), (Code::Unavailable, "ward: request-timeout"));
    assert!(started.elapsed() < Duration::from_millis(700), "{:?}", started.elapsed());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_the_callers_deadline_is_honoured() {
    let gate = FakeGate::new(|_| {
        std::thread::sleep(Duration::from_millis(1500));
        allow()
    });
    let server = Server::start(gate, options()).await;
    // By hand: tonic's client would enforce its own timeout and race ward's.
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let request = Request::post(format!("http://{}/envoy.service.auth.v3.Authorization/Check", server.addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", "200m")
        // One uncompressed, empty CheckRequest.
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap();
    let started = Instant::now();
    let response = sender.send_request(request).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.headers()["grpc-status"], (Code::DeadlineExceeded as i32).to_string().as_str(), "{response:?}");
    assert!(response.headers()["grpc-message"].to_str().unwrap().contains("deadline"), "{response:?}");
    assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_millis(1200), "{elapsed:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_oversized_and_malformed_requests_are_refused_before_the_gate() {
    let gate = FakeGate::new(|_| allow());
    let server = Server::start(gate.clone(), ServerOptions { max_header_bytes: 4096, ..options() }).await;
    // Within the message bound (2 x 4 KiB + 16 KiB), over maxHeaderBytes.
    let big = "a".repeat(5000);
    let error = check(server.addr, envoy_check(&[("authorization", &big)])).await.unwrap_err();
    assert_eq!((error.code(), error.message()), (Code::ResourceExhausted, "ward: request-too-large"));
    // Over the message bound: refused from its length prefix, unread
    // (tonic's answer is OUT_OF_RANGE).
    let huge = "a".repeat(64 * 1024);
    let error = check(server.addr, envoy_check(&[("x-padding", &huge)])).await.unwrap_err();
    assert_eq!(error.code(), Code::OutOfRange, "{error:?}");
    // A name that is no HTTP field name.
    let error = check(server.addr, envoy_check(&[("bad name", "v")])).await.unwrap_err();
    assert_eq!((error.code(), error.message()), (Code::InvalidArgument, "ward: request-malformed"));
    assert_eq!(gate.calls.load(Ordering::SeqCst), 0);
    // The connection still serves.
    assert!(check(server.addr, envoy_check(&[])).await.is_ok());
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- health, routing, metrics

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_health_follows_readiness_and_unknown_methods_are_unimplemented() {
    let gate = FakeGate::new(|_| allow());
    let server = Server::start(gate.clone(), options()).await;
    let mut health = HealthClient::new(channel(server.addr).await);
    let status = |service: &str| HealthCheckRequest { service: service.into() };
    for service in ["", "envoy.service.auth.v3.Authorization"] {
        assert_eq!(health.check(status(service)).await.unwrap().into_inner().status, ServingStatus::Serving as i32, "{service:?}");
    }
    gate.ready.store(false, Ordering::SeqCst);
    assert_eq!(health.check(status("")).await.unwrap().into_inner().status, ServingStatus::NotServing as i32);
    assert_eq!(health.check(status("other.Service")).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(health.watch(status("")).await.unwrap_err().code(), Code::Unimplemented);

    // A service ward does not serve: a gRPC error in trailers-only form.
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let request = Request::post(format!("http://{}/other.Service/Method", server.addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], (Code::Unimplemented as i32).to_string().as_str());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_checks_are_counted_and_never_logged_or_labelled_with_request_content() {
    const MARKER: &str = "grpc-marker-7f3a";
    let logs = logs();
    let server = Server::start(FakeGate::new(|_| allow()), options()).await;
    let mut request = envoy_check(&[("authorization", &format!("Bearer {MARKER}")), ("x-ward-id", MARKER), (&format!("x-ward-{MARKER}"), MARKER)]);
    request.attributes.as_mut().unwrap().request.as_mut().unwrap().http.as_mut().unwrap().path = format!("/{MARKER}");
    check(server.addr, request).await.unwrap();
    check(server.addr, envoy_check(&[("bad name", MARKER)])).await.unwrap_err();
    let mut health = HealthClient::new(channel(server.addr).await);
    health.check(HealthCheckRequest { service: String::new() }).await.unwrap();
    let page = String::from_utf8(get(server.addr, "/metrics", &[]).await.body().to_vec()).unwrap();
    for line in [
        "ward_http_requests_total{endpoint=\"ext_authz_grpc\"} 2\n",
        "ward_http_requests_total{endpoint=\"grpc_health\"} 1\n",
        "ward_decisions_total{plugin=\"acme\",outcome=\"allow\",reason=\"\"} 1\n",
        "ward_decisions_total{plugin=\"\",outcome=\"deny\",reason=\"request-malformed\"} 1\n",
    ] {
        assert!(page.contains(line), "missing {line:?} in\n{page}");
    }
    assert!(!page.contains(MARKER));
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("protocol=\"grpc\"") || logged.contains("protocol=grpc"), "the decision is logged at debug");
    assert!(!logged.contains(MARKER), "request content in the logs");
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- Envoy's HTTP service

/// Envoy's HTTP `ext_authz` service sends the original method and path
/// behind its `path_prefix`, `Content-Length: 0`, the allowed headers and
/// its own `x-envoy-*` ones; it copies the headers named in
/// `allowed_upstream_headers` from a 200 onto the upstream request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ext_authz_request_shape_is_auth() {
    let gate = FakeGate::new(|headers| {
        if headers.get("authorization").is_some_and(|v| v == "Bearer good") { allow() } else { deny(DenyReason::Plugin(PluginDeny::BadSignature)) }
    });
    let server = Server::start(gate.clone(), options()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let envoy_request = |authorization: &str| {
        format!(
            "POST /auth/orders/1?expand=items HTTP/1.1\r\nhost: shop.example\r\ncontent-length: 0\r\nauthorization: {authorization}\r\n\
             x-forwarded-proto: https\r\nx-request-id: 0d9c1f9e\r\nx-envoy-expected-rq-timeout-ms: 200\r\nx-ward-id: admin\r\n\r\n"
        )
    };
    stream.write_all(envoy_request("Bearer good").as_bytes()).await.unwrap();
    let allowed = read_until(&mut stream, "\r\n\r\n", Duration::from_secs(5)).await.unwrap().to_ascii_lowercase();
    assert!(allowed.starts_with("http/1.1 200 ok\r\n"), "{allowed}");
    let expected = alice();
    assert!(allowed.contains(&format!("x-ward-id: {}\r\n", expected.id)), "{allowed}");
    assert!(allowed.contains("x-ward-scopes: orders:read orders:write\r\n"), "{allowed}");
    stream.write_all(envoy_request("Bearer bad").as_bytes()).await.unwrap();
    let denied = read_until(&mut stream, "\r\n\r\n", Duration::from_secs(5)).await.unwrap().to_ascii_lowercase();
    assert!(denied.starts_with("http/1.1 401 unauthorized\r\n"), "{denied}");
    assert!(denied.contains("www-authenticate: bearer realm=\"ward\"\r\n"), "{denied}");
    let seen = gate.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|headers| !headers.contains_key("x-ward-id") && headers.contains_key("x-envoy-expected-rq-timeout-ms")));
    server.stop().await.unwrap();
}

// ---------------------------------------------------------------- over mutual TLS

/// A listener certificate that never changes.
struct FixedCerts(Arc<rustls::ServerConfig>);

impl ward::server::CertSource for FixedCerts {
    fn load(&self) -> Result<Arc<rustls::ServerConfig>, ward::server::CertRefusal> {
        Ok(self.0.clone())
    }
}

/// A gRPC channel over TLS to `addr`, presenting `client` if given; ALPN h2,
/// as Envoy's gRPC client offers.
async fn tls_channel(addr: SocketAddr, ca: &str, client: Option<&super::pki::Leaf>) -> Result<Channel, tonic::transport::Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(leaf.cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connect = tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    tonic::transport::Endpoint::from_static("http://localhost").connect_with_connector(connect).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_check_works_over_mutual_tls_and_only_with_the_proxys_certificate() {
    let (ca, proxies) = (super::pki::TestCa::new("ward"), super::pki::TestCa::new("proxies"));
    let leaf = ca.server(1);
    let pem = ward::server::TlsPem {
        cert_chain: leaf.cert.into_bytes(),
        key: zeroize::Zeroizing::new(leaf.key.into_bytes()),
        client_ca: Some(proxies.pem.clone().into_bytes()),
    };
    let tls = ward::server::ListenerTls::new(Box::new(FixedCerts(ward::server::tls_server_config(&pem).unwrap()))).unwrap();
    let gate = FakeGate::new(|_| allow());
    let server = Server::start(gate.clone(), ServerOptions { tls: Some(tls), ..options() }).await;

    let envoy = proxies.client("envoy");
    let channel = tls_channel(server.addr, &ca.pem, Some(&envoy)).await.unwrap();
    let response = AuthorizationClient::new(channel.clone()).check(envoy_check(&[("authorization", "Bearer good")])).await.unwrap().into_inner();
    assert_eq!(response.status.unwrap().code, Code::Ok as i32);
    let health = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    // Without a client certificate the handshake fails (under TLS 1.3 the
    // client learns it at its first request): no Check reaches the gate.
    let refused = match tls_channel(server.addr, &ca.pem, None).await {
        Ok(channel) => AuthorizationClient::new(channel).check(envoy_check(&[("authorization", "Bearer good")])).await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a client without a certificate was answered");
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1);
    server.stop().await.unwrap();
}
