//! Envoy's and Istio's external authorization over gRPC
//! (`envoy.service.auth.v3.Authorization/Check`) and `grpc.health.v1.Health`,
//! served on the same port as `/auth`: a gRPC call is an HTTP/2 request with
//! `content-type: application/grpc`, so the connection handling, its limits
//! (`maxConnections`, `maxHeaderBytes` on the h2 header list, concurrent
//! streams, the idle watchdog) and the drain at shutdown are the HTTP
//! server's own. `docs/http-api.md` has the contract, `docs/envoy.md` the
//! proxy side.
//!
//! The protos are Envoy's data-plane-api as compiled by `envoy-types` (and
//! `tonic-health` for the health service); tonic's generated services decode
//! and encode, this module only routes and bounds.

mod check;
mod deadline;
mod health;
mod request;

use std::sync::Arc;
use std::time::Instant;

use envoy_types::ext_authz::v3::pb::AuthorizationServer;
use http::header::CONTENT_TYPE;
use http::{Request, Response, Version};
use hyper::body::Incoming;
use tokio::time::timeout;
use tonic::codegen::Service;
use tonic::server::NamedService;
use tonic_health::pb::health_server::HealthServer;

use super::decide::recorded;
use super::metrics::Endpoint;
use super::options::ServerOptions;
use super::shared::Shared;

/// A gRPC response body: messages, then the status in trailers.
pub(crate) type GrpcBody = tonic::body::Body;

/// Room in a `CheckRequest` beyond its headers: addresses, the request's
/// path, host and query again in their own fields, context extensions and
/// metadata.
const MESSAGE_SLACK_BYTES: usize = 16 * 1024;

/// The most bytes a `CheckRequest` may take: its headers count against
/// `maxHeaderBytes` (`request.rs`), and appear twice at most (the path and the
/// host are copied into fields of their own). A longer message is refused
/// before it is read (`RESOURCE_EXHAUSTED`).
pub(crate) fn max_message_bytes(options: &ServerOptions) -> usize {
    options.max_header_bytes.saturating_mul(2).saturating_add(MESSAGE_SLACK_BYTES)
}

/// An HTTP/2 request whose content type is gRPC's (`application/grpc`, or
/// `application/grpc+<codec>`). gRPC-Web is not served.
pub(crate) fn is_grpc(request: &Request<Incoming>) -> bool {
    if request.version() != Version::HTTP_2 {
        return false;
    }
    let Some(content_type) = request.headers().get(CONTENT_TYPE) else { return false };
    let content_type = content_type.as_bytes();
    content_type == b"application/grpc" || content_type.starts_with(b"application/grpc+")
}

/// Serves one gRPC call. `Check` is bounded as a whole (reading its message
/// and deciding) by the caller's `grpc-timeout` when it sends one, and always
/// by `headerReadTimeout` + `requestTimeout`; past the bound the answer is
/// `DEADLINE_EXCEEDED`, which Envoy treats as an error and fails closed on.
pub(crate) async fn handle(shared: &Arc<Shared>, request: Request<Incoming>) -> Response<GrpcBody> {
    let path = request.uri().path();
    if is_method_of(path, <AuthorizationServer<check::Check> as NamedService>::NAME) {
        shared.metrics.request(Endpoint::ExtAuthzGrpc);
        let started = Instant::now();
        let bound = deadline::bound(request.headers(), &shared.options);
        let mut service = AuthorizationServer::new(check::Check::new(shared.clone())).max_decoding_message_size(max_message_bytes(&shared.options));
        return match timeout(bound, service.call(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(_) => {
                let status = tonic::Status::deadline_exceeded("ward: deadline exceeded");
                recorded(shared, "grpc", (None, None), ("unavailable", "deadline-exceeded"), status.code() as u16, started.elapsed());
                status.into_http()
            }
        };
    }
    if is_method_of(path, <HealthServer<health::Readiness> as NamedService>::NAME) {
        shared.metrics.request(Endpoint::GrpcHealth);
        let mut service = HealthServer::new(health::Readiness::new(shared.clone())).max_decoding_message_size(HEALTH_MESSAGE_BYTES);
        // `Check` asks the gate within `requestTimeout` (`readiness::ready`);
        // this bounds reading the request too.
        return match timeout(deadline::whole_call(&shared.options), service.call(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(_) => tonic::Status::deadline_exceeded("ward: deadline exceeded").into_http(),
        };
    }
    shared.metrics.request(Endpoint::NotFound);
    tonic::Status::unimplemented("ward serves envoy.service.auth.v3.Authorization and grpc.health.v1.Health").into_http()
}

/// A `HealthCheckRequest` is a service name.
const HEALTH_MESSAGE_BYTES: usize = 1024;

/// `/<service>/<method>`.
fn is_method_of(path: &str, service: &str) -> bool {
    path.strip_prefix('/').and_then(|rest| rest.strip_prefix(service)).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_matched_by_service_name() {
        let service = "envoy.service.auth.v3.Authorization";
        assert!(is_method_of("/envoy.service.auth.v3.Authorization/Check", service));
        for path in ["/envoy.service.auth.v3.Authorization", "/envoy.service.auth.v3.AuthorizationX/Check", "envoy.service.auth.v3.Authorization/Check", "/"] {
            assert!(!is_method_of(path, service), "{path}");
        }
    }

    #[test]
    fn the_message_bound_follows_the_header_limit() {
        let options = ServerOptions { max_header_bytes: 32 * 1024, ..ServerOptions::default() };
        assert_eq!(max_message_bytes(&options), 80 * 1024);
    }
}
