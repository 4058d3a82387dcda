//! The `runtime` function: what the voice runtime reports to GOBI. Heartbeats keep an agent's
//! status exact; later: dispatch claims and call events.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use gobi_agents::model::{AgentStatus, Heartbeat, HeartbeatAck};
use gobi_agents::store::{AgentStore, agent_not_found};
use gobi_shared::Config;
use gobi_shared::auth::{JwtVerifier, Principal};
use gobi_shared::error::{ApiResult, ErrorBody};
use gobi_shared::extract::ApiJson;
use gobi_shared::response::DataResponse;
use gobi_shared::time::Clock;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct RuntimeState {
    pub agents: AgentStore,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
    pub heartbeat_timeout: chrono::Duration,
}

impl RuntimeState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        Self {
            agents: AgentStore::new(dynamodb, &config.tables.agents),
            verifier,
            clock,
            heartbeat_timeout: chrono::Duration::seconds(config.heartbeat_timeout_seconds),
        }
    }
}

impl FromRef<RuntimeState> for Arc<JwtVerifier> {
    fn from_ref(state: &RuntimeState) -> Self {
        state.verifier.clone()
    }
}

fn routes() -> OpenApiRouter<RuntimeState> {
    OpenApiRouter::default().routes(routes!(heartbeat))
}

pub fn router(state: RuntimeState) -> axum::Router {
    routes().with_state(state).split_for_parts().0
}

pub fn openapi() -> OpenApi {
    routes().split_for_parts().1
}

/// A runtime worker reports that it serves an agent (internal operator token; a token that
/// names a tenant may only report for that tenant's agents).
#[utoipa::path(
    post,
    path = "/internal/runtime/heartbeat",
    tag = "Runtime",
    request_body = Heartbeat,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Recorded; the agent is online", body = DataResponse<HeartbeatAck>),
        (status = 404, description = "AGENT_NOT_FOUND", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn heartbeat(
    principal: Principal,
    State(state): State<RuntimeState>,
    ApiJson(beat): ApiJson<Heartbeat>,
) -> ApiResult<Json<DataResponse<HeartbeatAck>>> {
    principal.require_platform()?;
    beat.validate()?;
    let tenant = state
        .agents
        .tenant_of(beat.agent_id)
        .await?
        .ok_or_else(|| agent_not_found(beat.agent_id))?;
    principal.require_runtime(tenant, || agent_not_found(beat.agent_id))?;
    let now = state.clock.now();
    state
        .agents
        .heartbeat(tenant, &beat, now, state.heartbeat_timeout)
        .await?;
    Ok(Json(DataResponse::new(HeartbeatAck {
        agent_id: beat.agent_id,
        status: AgentStatus::Online,
        last_heartbeat_at: now,
        timeout_seconds: state.heartbeat_timeout.num_seconds(),
    })))
}
