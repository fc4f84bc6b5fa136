//! `Authorization/Check`: the request's headers go through the same decision
//! as `/auth` (`decide.rs`), and the verdict becomes a `CheckResponse`.
//!
//! - allow: `OkHttpResponse` whose `headers` are the `X-Ward-*` identity
//!   headers `/auth` sets, each `OVERWRITE_IF_EXISTS_OR_ADD` (Envoy's default
//!   action appends, which would put a client's forged `X-Ward-Id` beside
//!   ward's), and whose `headers_to_remove` lists every other `x-ward-*`
//!   header the client sent. A header ward sets is never listed there: some
//!   Envoy versions apply removals after additions, and would remove ward's.
//! - deny: `DeniedHttpResponse` with `/auth`'s status (401 with
//!   `WWW-Authenticate`, 403), body and headers.
//! - unavailable (not ready, over capacity, timeouts, a faulting guest): the
//!   gRPC status `UNAVAILABLE`, which Envoy treats as an error and, with
//!   `failure_mode_allow: false`, answers with `status_on_error`.
//! - a request whose headers cannot be read: `INVALID_ARGUMENT` or
//!   `RESOURCE_EXHAUSTED`, errors Envoy fails closed on the same way.

use std::sync::Arc;
use std::time::Instant;

use envoy_types::ext_authz::v3::pb::{
    Authorization, CheckRequest, CheckResponse, DeniedHttpResponse, HeaderAppendAction, HeaderValue as PbHeader, HeaderValueOption, HttpResponse, HttpStatus,
    OkHttpResponse,
};
use envoy_types::pb::google::rpc;
use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::{Code, Request, Response, Status};

use super::request::{self, Unreadable};
use crate::server::decide::{decide, identity_id, recorded, without_reserved};
use crate::server::encode::IdentityHeaders;
use crate::server::respond::{Answered, Class, Shape, Verdict, identity_fields, refusal_headers, refusal_status, verdict};
use crate::server::shared::Shared;

/// The `Authorization` service of one server.
pub(crate) struct Check {
    shared: Arc<Shared>,
}

impl Check {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[tonic::async_trait]
impl Authorization for Check {
    async fn check(&self, request: Request<CheckRequest>) -> Result<Response<CheckResponse>, Status> {
        let started = Instant::now();
        let shared = &*self.shared;
        let _in_flight = shared.metrics.in_flight();
        let headers = match request::headers(request.get_ref(), shared.options.max_header_bytes) {
            Ok(headers) => headers,
            Err(unreadable) => {
                let status = match unreadable {
                    Unreadable::Malformed => Status::invalid_argument(format!("ward: {}", unreadable.code())),
                    Unreadable::TooLarge => Status::resource_exhausted(format!("ward: {}", unreadable.code())),
                };
                recorded(shared, "grpc", (None, None), ("deny", unreadable.code()), status.code() as u16, started.elapsed());
                return Err(status);
            }
        };
        let target = request::target(request.get_ref());
        drop(request);
        let forged = reserved_names(&headers);
        let mut headers = without_reserved(headers);
        headers.extend(target);
        let (outcome, plugin, challenge) = decide(shared, headers).await;
        let identity = identity_id(shared, &outcome);
        let shape = Shape { challenge: challenge.as_ref(), retry_after: &shared.retry_after, deny_reason_header: shared.options.deny_reason_header };
        let (answer, answered) = match verdict(outcome) {
            Verdict::Allow(identity) => (ok(identity, &forged), Answered { class: Class::Allow, reason: "" }),
            Verdict::Refuse(answered) => (denied(&answered, &shape), answered),
        };
        let code = match &answer {
            Ok(response) => response.status.as_ref().map_or(0, |status| status.code),
            Err(status) => status.code() as i32,
        };
        recorded(shared, "grpc", (plugin, identity), (answered.class.label(), answered.reason), u16::try_from(code).unwrap_or(u16::MAX), started.elapsed());
        answer.map(Response::new)
    }
}

/// The `x-ward-*` names on the request: a client's forgeries, whatever their value.
fn reserved_names(headers: &HeaderMap) -> Vec<HeaderName> {
    headers.keys().filter(|name| name.as_str().starts_with("x-ward-")).cloned().collect()
}

fn ok(identity: IdentityHeaders, forged: &[HeaderName]) -> Result<CheckResponse, Status> {
    let fields = identity_fields(identity);
    let headers_to_remove = forged.iter().filter(|name| !fields.iter().any(|(set, _)| set == *name)).map(|name| name.as_str().to_owned()).collect();
    let headers = fields.iter().map(|(name, value)| overwrite(name, value)).collect::<Option<Vec<_>>>().ok_or_else(internal)?;
    let response = OkHttpResponse { headers, headers_to_remove, ..OkHttpResponse::default() };
    Ok(CheckResponse { status: Some(status(Code::Ok)), http_response: Some(HttpResponse::OkResponse(response)), ..CheckResponse::default() })
}

/// A deny carries `/auth`'s status, body and headers; anything else that is
/// not an allow is `UNAVAILABLE`, for Envoy to fail closed on.
fn denied(answered: &Answered, shape: &Shape<'_>) -> Result<CheckResponse, Status> {
    let code = match answered.class {
        Class::Unauthorized => Code::Unauthenticated,
        Class::Forbidden => Code::PermissionDenied,
        Class::Allow | Class::Unavailable => return Err(Status::unavailable(format!("ward: {}", answered.reason))),
    };
    let (http_status, body) = refusal_status(answered.class);
    let mut headers = HeaderMap::new();
    refusal_headers(answered, shape, &mut headers);
    let headers = headers.iter().map(|(name, value)| overwrite(name, value)).collect::<Option<Vec<_>>>().ok_or_else(internal)?;
    let response = DeniedHttpResponse { status: Some(HttpStatus { code: i32::from(http_status.as_u16()) }), headers, body: body.to_owned() };
    Ok(CheckResponse { status: Some(status(code)), http_response: Some(HttpResponse::DeniedResponse(response)), ..CheckResponse::default() })
}

/// One header to set, replacing any the request carries. The values are
/// visible ASCII by construction (`encode.rs`, static texts); one that is not
/// cannot travel in the proto's string and fails the answer rather than
/// being altered.
fn overwrite(name: &HeaderName, value: &HeaderValue) -> Option<HeaderValueOption> {
    let value = value.to_str().ok()?.to_owned();
    Some(HeaderValueOption {
        header: Some(PbHeader { key: name.as_str().to_owned(), value, ..PbHeader::default() }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    })
}

fn status(code: Code) -> rpc::Status {
    rpc::Status { code: code as i32, ..rpc::Status::default() }
}

#[cold]
fn internal() -> Status {
    Status::unavailable("ward: internal")
}
