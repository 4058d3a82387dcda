//! The `runtime` function: what the voice runtime reports to GOBI. Heartbeats keep an agent's
//! status exact; later: dispatch claims and call events.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use gobi_agents::model::{AgentStatus, Heartbeat, HeartbeatAck};
use gobi_agents::store::{AgentStore, agent_not_found};
use gobi_shared::Config;
use gobi_shared::auth::{JwtVerifier, Principal};
use gobi_shared::calls::{CallStore, Claim, DispatchView, call_not_found, dispatch_not_found};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody};
use gobi_shared::extract::{ApiJson, ApiQuery};
use gobi_shared::ids::{CallId, DispatchId};
use gobi_shared::response::DataResponse;
use gobi_shared::time::Clock;
use serde::{Deserialize, Serialize};
use utoipa::openapi::OpenApi;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct RuntimeState {
    pub agents: AgentStore,
    pub calls: CallStore,
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
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            calls: CallStore::new(dynamodb, &config.tables.calls),
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
    OpenApiRouter::default()
        .routes(routes!(heartbeat))
        .routes(routes!(claim_dispatch))
        .routes(routes!(find_dispatch))
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

/// `POST /internal/runtime/dispatches/claim`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub dispatch_id: DispatchId,
}

/// The claimed dispatch and its join token, handed out this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimedDispatch {
    pub dispatch: DispatchView,
    /// The LiveKit join token for the dispatch's room; absent when LiveKit is not configured.
    pub join_token: Option<String>,
}

/// Claim a pending dispatch: the join token is returned exactly once and removed from the record
/// in the same write.
#[utoipa::path(
    post,
    path = "/internal/runtime/dispatches/claim",
    tag = "Runtime",
    request_body = ClaimRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Claimed", body = DataResponse<ClaimedDispatch>),
        (status = 404, description = "DISPATCH_NOT_FOUND (or another tenant's)", body = ErrorBody),
        (status = 409, description = "DISPATCH_ALREADY_CLAIMED", body = ErrorBody),
        (status = 410, description = "DISPATCH_EXPIRED", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn claim_dispatch(
    principal: Principal,
    State(state): State<RuntimeState>,
    ApiJson(body): ApiJson<ClaimRequest>,
) -> ApiResult<Json<DataResponse<ClaimedDispatch>>> {
    principal.require_platform()?;
    let id = body.dispatch_id;
    let tenant = state
        .calls
        .dispatch_tenant(id)
        .await?
        .ok_or_else(|| dispatch_not_found(id))?;
    principal.require_runtime(tenant, || dispatch_not_found(id))?;
    match state
        .calls
        .claim(tenant, id, &principal.subject, state.clock.now())
        .await?
    {
        Claim::Won(mut dispatch) => {
            tracing::info!(tenant_id = %tenant, call_id = %dispatch.call_id, dispatch_id = %id, "dispatch claimed");
            let join_token = dispatch.join_token.take();
            Ok(Json(DataResponse::new(ClaimedDispatch {
                dispatch: dispatch.view(),
                join_token,
            })))
        }
        Claim::AlreadyClaimed => Err(ApiError::conflict(
            "DISPATCH_ALREADY_CLAIMED",
            format!("Dispatch {id} was already claimed"),
        )),
        Claim::Expired => Err(ApiError::Gone {
            code: "DISPATCH_EXPIRED",
            message: format!("Dispatch {id} expired"),
        }),
    }
}

/// `GET /internal/runtime/dispatches` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DispatchQuery {
    pub call_id: CallId,
}

/// A call's dispatch (never its token).
#[utoipa::path(
    get,
    path = "/internal/runtime/dispatches",
    tag = "Runtime",
    params(DispatchQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The call's dispatch", body = DataResponse<DispatchView>),
        (status = 404, description = "CALL_NOT_FOUND or DISPATCH_NOT_FOUND (not created yet)", body = ErrorBody),
    )
)]
async fn find_dispatch(
    principal: Principal,
    State(state): State<RuntimeState>,
    ApiQuery(query): ApiQuery<DispatchQuery>,
) -> ApiResult<Json<DataResponse<DispatchView>>> {
    principal.require_platform()?;
    let call = state
        .calls
        .find(query.call_id)
        .await?
        .ok_or_else(|| call_not_found(query.call_id))?;
    principal.require_runtime(call.tenant_id, || call_not_found(query.call_id))?;
    let id = call
        .dispatch_id
        .ok_or_else(|| ApiError::not_found("DISPATCH_NOT_FOUND", "The call has no dispatch yet"))?;
    let dispatch = state
        .calls
        .dispatch(call.tenant_id, id)
        .await?
        .ok_or_else(|| dispatch_not_found(id))?;
    Ok(Json(DataResponse::new(dispatch.view())))
}
