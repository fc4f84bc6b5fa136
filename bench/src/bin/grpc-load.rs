//! `grpc-load`: the gRPC side of `scripts/grpc-load` (docs/performance.md).
//!
//! - `grpc-load ok-server --listen ADDR` serves `envoy.service.auth.v3.
//!   Authorization/Check` answering a constant OK (tonic's generated service
//!   on hyper's HTTP/2 server, as ward serves it): the baseline ward's
//!   `Check` is measured against.
//! - `grpc-load check --target ADDR --token T` drives `Check` over HTTP/2
//!   (tonic's client, the same protos as ward's tests) from `--connections`
//!   connections with `--concurrency` calls in flight on each, for
//!   `--seconds`, and prints one JSON line: calls/s, latency percentiles, and
//!   how many calls allowed, denied or failed.
//!
//! The client and both servers run on the same machine; the script runs the
//! two targets in turn, round after round, so that a slow spell lands on both.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use envoy_types::ext_authz::v3::pb::{Authorization, AuthorizationServer, CheckRequest, CheckResponse, HttpResponse, OkHttpResponse};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request as PbRequest};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::google::rpc;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tonic::transport::Channel;

#[derive(Parser)]
#[command(name = "grpc-load", about = "Load ext_authz gRPC Check, or serve a constant-OK Check as its baseline")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a constant-OK `Check` until killed.
    OkServer {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Drive `Check` and print JSON.
    Check {
        #[arg(long)]
        target: SocketAddr,
        /// The bearer token each `CheckRequest` carries.
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Calls in flight per connection.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return failed(&format!("cannot start the runtime: {err}")),
    };
    let result = runtime.block_on(async {
        match args.command {
            Command::OkServer { listen } => serve_ok(listen).await,
            Command::Check { target, token, connections, concurrency, seconds } => load(target, &token, connections, concurrency, seconds).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => failed(&err),
    }
}

fn failed(message: &str) -> ExitCode {
    eprintln!("grpc-load: {message}");
    ExitCode::from(2)
}

/// The baseline: OK for every request, nothing read from it.
struct ConstantOk;

#[tonic::async_trait]
impl Authorization for ConstantOk {
    async fn check(&self, _request: tonic::Request<CheckRequest>) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(CheckResponse {
            status: Some(rpc::Status::default()),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
            ..CheckResponse::default()
        }))
    }
}

/// tonic's generated service on hyper's HTTP/2 server: the stack ward serves
/// `Check` with, with nothing behind it.
async fn serve_ok(listen: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(listen).await.map_err(|err| format!("ok-server on {listen}: {err}"))?;
    let service = TowerToHyperService::new(AuthorizationServer::new(ConstantOk));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let _ = http2::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// The request Envoy would send for `GET /orders/1` with the token.
fn check_request(token: &str) -> CheckRequest {
    let headers = [
        (":method", "GET".to_owned()),
        (":path", "/orders/1".to_owned()),
        (":authority", "shop.example".to_owned()),
        ("authorization", format!("Bearer {token}")),
        ("user-agent", "grpc-load".to_owned()),
        ("x-request-id", "0d9c1f9e-6a8b-4a5e-9d0c-3f1e2b7a8c4d".to_owned()),
    ];
    let http = HttpRequest {
        method: "GET".into(),
        path: "/orders/1".into(),
        host: "shop.example".into(),
        protocol: "HTTP/1.1".into(),
        headers: headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ..HttpRequest::default()
    };
    CheckRequest { attributes: Some(AttributeContext { request: Some(PbRequest { http: Some(http), ..PbRequest::default() }), ..AttributeContext::default() }) }
}

#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    allowed: u64,
    denied: u64,
    errors: u64,
}

async fn load(target: SocketAddr, token: &str, connections: usize, concurrency: usize, seconds: f64) -> Result<(), String> {
    let duration = Duration::try_from_secs_f64(seconds).map_err(|err| format!("--seconds: {err}"))?;
    let request = Arc::new(check_request(token));
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let channel = Channel::from_shared(format!("http://{target}"))
            .map_err(|err| err.to_string())?
            .connect()
            .await
            .map_err(|err| format!("connect {target}: {err}"))?;
        channels.push(channel);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for channel in &channels {
        for _ in 0..concurrency.max(1) {
            let (mut client, request) = (AuthorizationClient::new(channel.clone()), request.clone());
            tasks.spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let answer = client.check(CheckRequest::clone(&request)).await;
                    tally.micros.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    match answer.map(tonic::Response::into_inner) {
                        Ok(CheckResponse { http_response: Some(HttpResponse::OkResponse(_)), .. }) => tally.allowed += 1,
                        Ok(_) => tally.denied += 1,
                        Err(_) => tally.errors += 1,
                    }
                }
                tally
            });
        }
    }
    let mut all = Tally::default();
    while let Some(done) = tasks.join_next().await {
        let tally = done.map_err(|err| format!("a client task failed: {err}"))?;
        all.micros.extend(tally.micros);
        all.allowed += tally.allowed;
        all.denied += tally.denied;
        all.errors += tally.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.micros.sort_unstable();
    let percentile = |p: f64| -> u32 {
        let rank = ((all.micros.len() as f64 - 1.0) * p).round() as usize;
        all.micros.get(rank).copied().unwrap_or(0)
    };
    let calls = all.micros.len();
    println!(
        "{{\"calls\":{calls},\"seconds\":{elapsed:.3},\"rps\":{:.1},\"p50_us\":{},\"p99_us\":{},\"allowed\":{},\"denied\":{},\"errors\":{},\"connections\":{},\"concurrency\":{}}}",
        calls as f64 / elapsed,
        percentile(0.50),
        percentile(0.99),
        all.allowed,
        all.denied,
        all.errors,
        connections.max(1),
        concurrency.max(1),
    );
    Ok(())
}
