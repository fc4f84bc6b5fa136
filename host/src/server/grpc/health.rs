//! `grpc.health.v1.Health/Check`: `SERVING` while the gate is ready, as
//! `/readyz` answers 200. The whole server and the `Authorization` service
//! are known names; any other is `NOT_FOUND`, as the protocol asks. `Watch`
//! is `UNIMPLEMENTED` (clients poll `Check`; Envoy's and Kubernetes's gRPC
//! health checks do).

use std::sync::Arc;

use envoy_types::ext_authz::v3::pb::AuthorizationServer;
use tonic::codegen::tokio_stream;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::Health;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use super::check::Check;
use crate::server::readiness::ready;
use crate::server::shared::Shared;

/// The health service of one server.
pub(crate) struct Readiness {
    shared: Arc<Shared>,
}

impl Readiness {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[tonic::async_trait]
impl Health for Readiness {
    async fn check(&self, request: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.get_ref().service.as_str();
        if !service.is_empty() && service != <AuthorizationServer<Check> as NamedService>::NAME {
            return Err(Status::not_found("ward: unknown service"));
        }
        let status = if ready(&self.shared).await { ServingStatus::Serving } else { ServingStatus::NotServing };
        Ok(Response::new(HealthCheckResponse { status: status as i32 }))
    }

    type WatchStream = tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(&self, _request: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("ward: poll Check"))
    }
}
