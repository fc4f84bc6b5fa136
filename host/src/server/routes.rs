//! The endpoints, and the switch between HTTP and gRPC. A decision is polled
//! on the I/O thread (`decide.rs`); every other call into the gate runs on
//! the blocking pool.

use std::sync::Arc;
use std::time::Instant;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Either;
use hyper::body::{Bytes, Incoming};
use tokio::task::spawn_blocking;
use tokio::time::timeout;
use tracing::warn;

use super::certs::ListenerTls;
use super::decide::{decide, identity_id, recorded, without_reserved};
use super::grpc::{self, GrpcBody};
use super::metrics::{self, Endpoint};
use super::process::{self, ProcessStats};
use super::readiness::{join_failed, ready};
use super::respond::{self, Body, Shape};
use super::shared::Shared;

/// An answer of either protocol: a plain HTTP body, or a gRPC one (which
/// ends in trailers).
pub(crate) type Reply = Either<Body, GrpcBody>;

/// Routes one request: gRPC to its services, the rest by path.
pub(crate) async fn handle(shared: &Arc<Shared>, request: Request<Incoming>) -> Response<Reply> {
    if grpc::is_grpc(&request) {
        return grpc::handle(shared, request).await.map(Either::Right);
    }
    http(shared, request).await.map(Either::Left)
}

/// Envoy's HTTP `ext_authz` appends the original path to its `path_prefix`,
/// so `/auth/<anything>` is `/auth` too.
async fn http(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path();
    if path == "/auth" || path.starts_with("/auth/") {
        shared.metrics.request(Endpoint::Auth);
        return auth(shared, request).await;
    }
    match path {
        "/healthz" => {
            shared.metrics.request(Endpoint::Healthz);
            respond::text(StatusCode::OK, "ok\n")
        }
        "/readyz" => {
            shared.metrics.request(Endpoint::Readyz);
            readyz(shared).await
        }
        "/metrics" => {
            shared.metrics.request(Endpoint::Metrics);
            metrics(shared).await
        }
        "/.well-known/jwks.json" => {
            shared.metrics.request(Endpoint::Jwks);
            jwks(shared)
        }
        _ => {
            shared.metrics.request(Endpoint::NotFound);
            respond::text(StatusCode::NOT_FOUND, "not found\n")
        }
    }
}

async fn auth(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let _in_flight = shared.metrics.in_flight();
    // The body is never read: forward-auth proxies send none, and whatever a
    // client sends is dropped with the request.
    let (parts, _body) = request.into_parts();
    let (outcome, plugin, challenge) = decide(shared, without_reserved(parts.headers)).await;
    let identity = identity_id(shared, &outcome);
    let shape = Shape { challenge: challenge.as_ref(), retry_after: &shared.retry_after, deny_reason_header: shared.options.deny_reason_header };
    let (response, answered) = respond::auth(outcome, &shape);
    recorded(shared, "auth", (plugin, identity), (answered.class.label(), answered.reason), response.status().as_u16(), started.elapsed());
    response
}

/// The identity assertion's public keys (`Gate::jwks`, an atomic load), or
/// 404 when none are configured. Public keys may be cached; a reload that
/// rotates them is seen within the minute.
fn jwks(shared: &Shared) -> Response<Body> {
    let Some(document) = shared.gate.jwks() else {
        return respond::text(StatusCode::NOT_FOUND, "not found\n");
    };
    let mut response = Response::new(Body::new(Bytes::copy_from_slice(&document)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
    response.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
    response
}

async fn readyz(shared: &Shared) -> Response<Body> {
    if ready(shared).await { respond::text(StatusCode::OK, "ready\n") } else { respond::unavailable(&shared.retry_after) }
}

/// Gathers the data of every metric, off the I/O threads (the process's
/// files and the gate's stats each on the blocking pool, within
/// `request_timeout`), and has `metrics.rs` render it. A gate that fails to
/// answer still leaves the server's metrics, which are what an operator
/// debugs it with; process values that cannot be read are left out.
async fn metrics(shared: &Shared) -> Response<Body> {
    let gate = shared.gate.clone();
    let (process, gate_stats) = tokio::join!(
        timeout(shared.options.request_timeout, spawn_blocking(process::sample)),
        timeout(shared.options.request_timeout, spawn_blocking(move || gate.stats())),
    );
    let process = match process {
        Ok(Ok(process)) => process,
        Ok(Err(_)) | Err(_) => {
            warn!("process metrics could not be read; left out");
            ProcessStats::default()
        }
    };
    let gate_stats = match gate_stats {
        Ok(Ok(stats)) => Some(stats),
        Ok(Err(join)) => {
            join_failed("stats", &join);
            None
        }
        Err(_) => None,
    };
    let page = metrics::page(&shared.metrics, shared.open_connections(), shared.options.tls.as_ref().map(ListenerTls::reloads), &process, gate_stats.as_ref());
    let mut response = Response::new(Body::new(Bytes::from(page)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
