//! The `client` function: what a tenant's users may read about their calls. Calls (newest first,
//! cursor-paged, filtered by a key-range Query), one call with its timeline, its transcript in
//! order, its recording's metadata, and KPIs and analytics read from counters kept up to date as
//! calls change. A `client_viewer` reads its own tenant; platform staff name a tenant.

use std::sync::Arc;

mod analytics;

use axum::Json;
use axum::extract::{FromRef, State};
use chrono::{DateTime, NaiveDate, Utc};
use gobi_domain::calls::{
    AnalyticsQuery, AnalyticsReport, Call, CallEvent, CallFilter, CallStatus, CallStore, Counters,
    DayRange, Direction, MAX_RANGE_DAYS, MetricSummary, Recording, TranscriptSegment,
    call_not_found, ratio,
};
use gobi_domain::tenants::store::{TenantStore, tenant_not_found};
use gobi_shared::Config;
use gobi_shared::api_routes;
use gobi_shared::auth::{JwtVerifier, Principal};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, Problems};
use gobi_shared::extract::{ApiPath, ApiQuery};
use gobi_shared::ids::{AgentId, CallId, E164, TenantId};
use gobi_shared::response::{DataResponse, count_up_to};
use gobi_shared::routing::ApiRouter;
use gobi_shared::time::Clock;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct ClientState {
    pub calls: CallStore,
    /// The tenant's time zone decides where its days begin.
    pub tenants: TenantStore,
    /// Agents and versions, for comparisons.
    pub agents: gobi_domain::agents::store::AgentStore,
    pub verifier: Arc<JwtVerifier>,
    /// "Today", for the KPIs' default period.
    pub clock: Clock,
}

impl ClientState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        Self {
            calls: CallStore::new(dynamodb.clone(), &config.tables.calls),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            agents: gobi_domain::agents::store::AgentStore::new(dynamodb, &config.tables.agents),
            verifier,
            clock,
        }
    }
}

fn routes() -> ApiRouter<ClientState> {
    ApiRouter::default()
        .routes(api_routes!(list_calls))
        .routes(api_routes!(get_call))
        .routes(api_routes!(get_transcript))
        .routes(api_routes!(get_recording))
        .routes(api_routes!(kpis))
        .merge(analytics::routes())
}

pub fn router(state: ClientState) -> axum::Router {
    routes().with_state(state)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
}

/// The tenant a request reads: a tenant user's own (naming another is answered as absent),
/// or, for platform staff, the one named (or else the one their token names).
fn tenant_of(principal: &Principal, named: Option<TenantId>) -> ApiResult<TenantId> {
    if principal.platform {
        return named.or(principal.tenant_id).ok_or_else(|| {
            ApiError::validation("tenant_id", "platform staff name the tenant to read")
        });
    }
    let own = principal.tenant_id.ok_or_else(|| ApiError::Forbidden {
        code: "NO_TENANT",
        message: "The token names no tenant".into(),
    })?;
    match named {
        Some(other) if other != own => Err(tenant_not_found(other).into()),
        _ => Ok(own),
    }
}

/// `?tenant_id=` for platform staff.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantParam {
    /// Platform staff only: the tenant to read.
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallsQuery {
    pub tenant_id: Option<TenantId>,
    /// Calls that started at or after this moment (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Calls that started at or before this moment (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    #[param(inline)]
    pub status: Option<CallStatus>,
    #[param(inline)]
    pub direction: Option<Direction>,
    pub agent_id: Option<AgentId>,
    /// The called number (E.164).
    #[param(value_type = Option<String>, example = "+15551234567")]
    pub number: Option<String>,
    /// 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
}

/// A page of calls, newest first. A request reads a bounded number of calls, so with a filter
/// that matches few a page may hold fewer than `limit` (even none) and still carry a cursor.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallsPage {
    pub data: Vec<Call>,
    /// Present while more calls may follow: pass it as `cursor` to go on.
    pub next_cursor: Option<String>,
}

/// The tenant's calls, newest first.
#[utoipa::path(
    get,
    path = "/client/calls",
    tag = "Client",
    params(CallsQuery),
    security(("bearerAuth" = [])),
    responses((status = 200, description = "One page of calls", body = CallsPage))
)]
async fn list_calls(
    principal: Principal,
    State(state): State<ClientState>,
    ApiQuery(query): ApiQuery<CallsQuery>,
) -> ApiResult<Json<CallsPage>> {
    let tenant = tenant_of(&principal, query.tenant_id)?;
    let mut p = Problems::default();
    let limit = p.check(
        "limit",
        count_up_to(100, query.limit, 25).map(|n| n as usize),
    );
    let number = p.check(
        "number",
        query.number.as_deref().map(E164::parse).transpose(),
    );
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        p.push("from", "must not be after to");
    }
    p.finish()?;
    let filter = CallFilter {
        from: query.from,
        to: query.to,
        status: query.status,
        direction: query.direction,
        agent_id: query.agent_id,
        number: number.flatten().map(|n| n.as_str().to_owned()),
    };
    let (data, next_cursor) = state
        .calls
        .page(
            tenant,
            &filter,
            limit.expect("checked"),
            query.cursor.as_deref(),
        )
        .await?;
    let data = data.into_iter().map(|c| shown(&principal, c)).collect();
    Ok(Json(CallsPage { data, next_cursor }))
}

/// A call as the caller may see it (see [`gobi_domain::calls::LegalHold::shown_to`]).
fn shown(principal: &Principal, mut call: Call) -> Call {
    call.legal_hold = call.legal_hold.map(|h| h.shown_to(principal));
    call
}

/// A call with its timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: Call,
    pub events: Vec<CallEvent>,
}

async fn tenant_call(
    state: &ClientState,
    principal: &Principal,
    tenant: Option<TenantId>,
    id: CallId,
) -> ApiResult<(TenantId, Call)> {
    let tenant = tenant_of(principal, tenant)?;
    let call = state
        .calls
        .get(tenant, id)
        .await?
        .ok_or_else(|| call_not_found(id))?;
    Ok((tenant, shown(principal, call)))
}

/// One call and its timeline.
#[utoipa::path(
    get,
    path = "/client/calls/{callId}",
    tag = "Client",
    params(("callId" = CallId, Path, description = "Call id"), TenantParam),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The call", body = DataResponse<CallDetail>),
        (status = 404, description = "CALL_NOT_FOUND (another tenant's call too)", body = ErrorBody),
    )
)]
async fn get_call(
    principal: Principal,
    State(state): State<ClientState>,
    ApiPath(id): ApiPath<CallId>,
    ApiQuery(query): ApiQuery<TenantParam>,
) -> ApiResult<Json<DataResponse<CallDetail>>> {
    let (tenant, call) = tenant_call(&state, &principal, query.tenant_id, id).await?;
    let events = state.calls.events(tenant, id).await?;
    Ok(Json(DataResponse::new(CallDetail { call, events })))
}

/// A call's transcript, in order.
#[utoipa::path(
    get,
    path = "/client/calls/{callId}/transcript",
    tag = "Client",
    params(("callId" = CallId, Path, description = "Call id"), TenantParam),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Segments by sequence", body = DataResponse<Vec<TranscriptSegment>>),
        (status = 404, description = "CALL_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_transcript(
    principal: Principal,
    State(state): State<ClientState>,
    ApiPath(id): ApiPath<CallId>,
    ApiQuery(query): ApiQuery<TenantParam>,
) -> ApiResult<Json<DataResponse<Vec<TranscriptSegment>>>> {
    let (tenant, _) = tenant_call(&state, &principal, query.tenant_id, id).await?;
    Ok(Json(DataResponse::new(
        state.calls.transcript(tenant, id).await?,
    )))
}

/// A call's recording metadata.
#[utoipa::path(
    get,
    path = "/client/calls/{callId}/recording",
    tag = "Client",
    params(("callId" = CallId, Path, description = "Call id"), TenantParam),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Where the recording is", body = DataResponse<Recording>),
        (status = 404, description = "CALL_NOT_FOUND or RECORDING_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_recording(
    principal: Principal,
    State(state): State<ClientState>,
    ApiPath(id): ApiPath<CallId>,
    ApiQuery(query): ApiQuery<TenantParam>,
) -> ApiResult<Json<DataResponse<Recording>>> {
    let (tenant, _) = tenant_call(&state, &principal, query.tenant_id, id).await?;
    let recording =
        state.calls.recording(tenant, id).await?.ok_or_else(|| {
            ApiError::not_found("RECORDING_NOT_FOUND", "The call has no recording")
        })?;
    Ok(Json(DataResponse::new(recording)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    pub tenant_id: Option<TenantId>,
    /// First day in the tenant's time zone, `YYYY-MM-DD`; default: 29 days before `to` (30
    /// days in all).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive, at most 366 days after `from`; default: today in the tenant's zone.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// One day's, or the range's, figures.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Kpi {
    pub calls: u64,
    pub answered: u64,
    /// answered / calls (0 when there were none).
    pub answer_rate: f64,
    pub total_duration_seconds: u64,
    /// Over answered calls that ended (0 when none).
    pub average_duration_seconds: f64,
    pub tool_executions: u64,
    pub tool_success_rate: f64,
    /// Calls whose disposition is a `success` one.
    pub successes: u64,
    /// successes / answered (0 when none were answered).
    pub success_rate: f64,
    /// Calls by disposition code (codes with none left out).
    pub dispositions: std::collections::BTreeMap<String, u64>,
}

impl Kpi {
    fn from_counters(c: &Counters) -> Self {
        let figures = MetricSummary::from(c);
        Self {
            calls: c.calls,
            answered: c.answered,
            answer_rate: figures.answer_rate,
            total_duration_seconds: c.talk_seconds,
            average_duration_seconds: figures.average_talk_seconds,
            tool_executions: c.tool_executions,
            tool_success_rate: ratio(c.tool_succeeded, c.tool_executions),
            successes: c.successes,
            success_rate: figures.success_rate,
            dispositions: figures.dispositions,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayKpi {
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    #[serde(flatten)]
    pub kpi: Kpi,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiReport {
    /// Every day of the range, in order (days without calls are zeros).
    pub days: Vec<DayKpi>,
    pub total: Kpi,
}

/// The tenant's time zone (its days and hours), or the tenant's absence.
async fn timezone_of(state: &ClientState, tenant: TenantId) -> ApiResult<String> {
    Ok(state
        .tenants
        .get(tenant)
        .await?
        .ok_or_else(|| ApiError::from(tenant_not_found(tenant)))?
        .timezone)
}

/// KPIs per day and in total, from counters kept as calls change: one Query whatever the range
/// (the last 30 days unless `from`/`to` say otherwise; days are the tenant's).
#[utoipa::path(
    get,
    path = "/client/kpis",
    tag = "Client",
    params(KpiQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The figures", body = DataResponse<KpiReport>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn kpis(
    principal: Principal,
    State(state): State<ClientState>,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> ApiResult<Json<DataResponse<KpiReport>>> {
    let tenant = tenant_of(&principal, query.tenant_id)?;
    let zone = timezone_of(&state, tenant).await?;
    let range = DayRange::resolve(
        query.from,
        query.to,
        &zone,
        state.clock.now(),
        MAX_RANGE_DAYS,
    )?;
    let mut total = Counters::default();
    let mut days = Vec::new();
    for (date, counters) in state.calls.daily(tenant, range).await? {
        total.add(&counters);
        days.push(DayKpi {
            date,
            kpi: Kpi::from_counters(&counters),
        });
    }
    Ok(Json(DataResponse::new(KpiReport {
        days,
        total: Kpi::from_counters(&total),
    })))
}
