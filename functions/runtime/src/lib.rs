//! The `runtime` function: what the voice runtime reports to GOBI. Heartbeats keep an agent's
//! status exact; later: dispatch claims and call events.

mod disposition;
mod events;
mod opt_out;

pub use events::{EventBatch, RuntimeEvent, RuntimeEventKind};

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use gobi_domain::agents::model::{AgentStatus, Heartbeat, HeartbeatAck};
use gobi_domain::agents::store::{AgentStore, agent_not_found};
use gobi_domain::calls::{
    Call, CallEvent, CallStore, Claim, DispatchView, Recording, Speaker, TranscriptSegment,
    call_not_found, dispatch_not_found,
};
use gobi_domain::campaigns::dialer::{CampaignCallEnd, call_ended};
use gobi_domain::campaigns::dialing::Outcome;
use gobi_domain::campaigns::store::CampaignStore;
use gobi_domain::dispositions::store::DispositionStore;
use gobi_domain::leads::store::LeadStore;
use gobi_domain::webhooks::EventType;
use gobi_shared::Config;
use gobi_shared::api_routes;
use gobi_shared::auth::{Access, JwtVerifier, Principal};
use gobi_shared::error::Problems;
use gobi_shared::error::{ApiError, ApiResult, ErrorBody};
use gobi_shared::extract::ApiPath;
use gobi_shared::extract::{ApiJson, ApiQuery};
use gobi_shared::ids::{CallId, DispatchId, E164};
use gobi_shared::response::DataResponse;
use gobi_shared::routing::ApiRouter;
use gobi_shared::time::Clock;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct RuntimeState {
    pub agents: AgentStore,
    pub calls: CallStore,
    /// The do-not-call list, for opt-outs heard on calls.
    pub leads: LeadStore,
    /// Campaign attempts, ended by the runtime for calls placed through LiveKit.
    pub campaigns: CampaignStore,
    /// The tenant's dispositions (on the tenants table).
    pub dispositions: DispositionStore,
    /// The tenant's webhooks: calls answered, and calls placed through LiveKit ended.
    pub events: gobi_domain::webhooks::EventSink,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
    #[from_ref(skip)]
    pub heartbeat_timeout: chrono::Duration,
}

impl RuntimeState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        Self {
            events: gobi_domain::webhooks::EventSink::from_config(config, sqs),
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            calls: CallStore::new(dynamodb.clone(), &config.tables.calls),
            leads: LeadStore::new(dynamodb.clone(), &config.tables.leads),
            campaigns: CampaignStore::new(dynamodb.clone(), &config.tables.campaigns),
            dispositions: DispositionStore::new(dynamodb, &config.tables.tenants),
            verifier,
            clock,
            heartbeat_timeout: chrono::Duration::seconds(config.heartbeat_timeout_seconds),
        }
    }
}

fn routes() -> ApiRouter<RuntimeState> {
    ApiRouter::default()
        .routes(api_routes!(heartbeat))
        .routes(api_routes!(claim_dispatch))
        .routes(api_routes!(find_dispatch))
        .routes(api_routes!(events::report_events))
        .routes(api_routes!(report_transcript))
        .routes(api_routes!(report_recording))
        .routes(api_routes!(opt_out::opt_out))
        .routes(api_routes!(disposition::report_disposition))
}

pub fn router(state: RuntimeState) -> axum::Router {
    routes().with_state(state)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
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
    principal.authorize(Access::INTERNAL)?;
    beat.validate()?;
    let tenant = state
        .agents
        .tenant_of(beat.agent_id)
        .await?
        .ok_or_else(|| agent_not_found(beat.agent_id))?;
    principal.authorize(Access::read(tenant, agent_not_found(beat.agent_id)))?;
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
    principal.authorize(Access::INTERNAL)?;
    let id = body.dispatch_id;
    // A tenant's token claims under its own tenant's key: one conditional write, where another
    // tenant's dispatch is absent. The platform's looks the dispatch's tenant up first.
    let tenant = match principal.only_tenant() {
        Some(own) => own,
        None => state
            .calls
            .dispatch_tenant(id)
            .await?
            .ok_or_else(|| dispatch_not_found(id))?,
    };
    principal.authorize(Access::read(tenant, dispatch_not_found(id)))?;
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
    principal.authorize(Access::INTERNAL)?;
    let call = state
        .calls
        .find(query.call_id)
        .await?
        .ok_or_else(|| call_not_found(query.call_id))?;
    principal.authorize(Access::read(call.tenant_id, call_not_found(query.call_id)))?;
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

/// The largest batches the ingestion endpoints take.
pub const MAX_EVENTS: usize = 100;
pub const MAX_SEGMENTS: usize = 200;

async fn reported_call(state: &RuntimeState, principal: &Principal, id: CallId) -> ApiResult<Call> {
    principal.authorize(Access::INTERNAL)?;
    let call = state
        .calls
        .find(id)
        .await?
        .ok_or_else(|| call_not_found(id))?;
    principal.authorize(Access::read(call.tenant_id, call_not_found(id)))?;
    Ok(call)
}

/// How much of a batch was new.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ingested {
    pub accepted: usize,
    /// Already recorded (a re-send); left unchanged.
    pub duplicates: usize,
}

/// `POST /internal/runtime/calls/{callId}/transcript`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptBatch {
    /// 1 to 200 segments, in any order.
    #[schema(min_items = 1, max_items = 200)]
    pub segments: Vec<SegmentIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentIn {
    #[serde(deserialize_with = "gobi_shared::serde_fields::whole")]
    #[schema(maximum = 1000000)]
    pub sequence: u32,
    pub speaker: Speaker,
    #[schema(max_length = 10000)]
    pub text: String,
    #[serde(deserialize_with = "gobi_shared::serde_fields::whole_u64")]
    pub start_ms: u64,
    #[serde(deserialize_with = "gobi_shared::serde_fields::whole_u64")]
    pub end_ms: u64,
}

/// Report transcript segments; a segment's sequence number makes re-sends harmless.
#[utoipa::path(
    post,
    path = "/internal/runtime/calls/{callId}/transcript",
    tag = "Runtime",
    params(("callId" = CallId, Path, description = "Call id")),
    request_body = TranscriptBatch,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Recorded", body = DataResponse<Ingested>),
        (status = 404, description = "CALL_NOT_FOUND", body = ErrorBody),
    )
)]
async fn report_transcript(
    principal: Principal,
    State(state): State<RuntimeState>,
    ApiPath(id): ApiPath<CallId>,
    ApiJson(batch): ApiJson<TranscriptBatch>,
) -> ApiResult<Json<DataResponse<Ingested>>> {
    let call = reported_call(&state, &principal, id).await?;
    let mut p = Problems::default();
    p.check_batch("segments", batch.segments.len(), MAX_SEGMENTS);
    for (i, seg) in batch.segments.iter().enumerate() {
        if seg.text.chars().count() > 10_000
            || seg.end_ms < seg.start_ms
            || seg.sequence > 1_000_000
        {
            p.push(format!("segments[{i}]"), "text at most 10000 characters, end_ms not before start_ms, sequence at most 1000000");
        }
    }
    p.finish()?;
    let (mut accepted, mut duplicates) = (0, 0);
    for seg in &batch.segments {
        let segment = TranscriptSegment {
            sequence: seg.sequence,
            speaker: seg.speaker,
            text: seg.text.clone(),
            start_ms: seg.start_ms,
            end_ms: seg.end_ms,
        };
        if state
            .calls
            .add_segment(call.tenant_id, call.id, &segment)
            .await?
        {
            accepted += 1;
        } else {
            duplicates += 1;
        }
    }
    Ok(Json(DataResponse::new(Ingested {
        accepted,
        duplicates,
    })))
}

/// `PUT /internal/runtime/calls/{callId}/recording`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingIn {
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = r"^(s3|https)://\S+$",
        example = "s3://gobi-recordings/t/c.wav"
    )]
    pub storage_uri: String,
    #[schema(pattern = "^(wav|mp3|ogg|opus|webm|m4a)$", example = "wav")]
    pub format: String,
    #[serde(deserialize_with = "gobi_shared::serde_fields::whole")]
    pub duration_seconds: u32,
    #[serde(deserialize_with = "gobi_shared::serde_fields::whole_u64")]
    pub size_bytes: u64,
}

/// Report where a call's recording is (metadata only; the audio stays where it is).
#[utoipa::path(
    put,
    path = "/internal/runtime/calls/{callId}/recording",
    tag = "Runtime",
    params(("callId" = CallId, Path, description = "Call id")),
    request_body = RecordingIn,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Recorded (a re-send replaces it)", body = DataResponse<Recording>),
        (status = 404, description = "CALL_NOT_FOUND", body = ErrorBody),
    )
)]
async fn report_recording(
    principal: Principal,
    State(state): State<RuntimeState>,
    ApiPath(id): ApiPath<CallId>,
    ApiJson(body): ApiJson<RecordingIn>,
) -> ApiResult<Json<DataResponse<Recording>>> {
    let call = reported_call(&state, &principal, id).await?;
    let mut p = Problems::default();
    let uri_ok = body.storage_uri.len() <= 2048
        && body
            .storage_uri
            .split_once("://")
            .is_some_and(|(scheme, rest)| {
                matches!(scheme, "s3" | "https") && gobi_shared::text::is_token(rest)
            });
    p.require(
        "storage_uri",
        uri_ok,
        "an s3:// or https:// URI, like s3://bucket/key",
    );
    p.require(
        "format",
        ["wav", "mp3", "ogg", "opus", "webm", "m4a"].contains(&body.format.as_str()),
        "wav, mp3, ogg, opus, webm or m4a",
    );
    p.finish()?;
    let recording = Recording {
        storage_uri: body.storage_uri,
        format: body.format,
        duration_seconds: body.duration_seconds,
        size_bytes: body.size_bytes,
        recorded_at: state.clock.now(),
    };
    state
        .calls
        .put_recording(call.tenant_id, call.id, &recording)
        .await?;
    Ok(Json(DataResponse::new(recording)))
}
