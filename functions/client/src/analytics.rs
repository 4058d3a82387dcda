//! Analytics: call figures grouped by agent, version, campaign or number, per hour or day
//! (`/client/analytics`, and `/api/tenants/{id}/analytics` for operators), and two versions of
//! an agent compared (`/api/tenants/{id}/agents/{agentId}/compare`). All read counters kept as
//! calls change: one Query each, whatever the range.

use gobi_domain::agents::store::{agent_not_found, version_not_found};
use gobi_domain::calls::{MIN_ANSWERED_TO_COMPARE, ZTest, two_proportion_z_test};
use gobi_domain::tenants::access::authorized_tenant;
use gobi_shared::auth::Role;
use gobi_shared::ids::AgentVersionId;

use super::*;

pub(crate) fn routes() -> ApiRouter<ClientState> {
    ApiRouter::default()
        .routes(api_routes!(analytics))
        .routes(api_routes!(tenant_analytics))
        .routes(api_routes!(compare_versions))
}

/// Call figures grouped by agent, version, campaign or number, per hour or day, from counters
/// kept as calls change: one Query whatever the range (a `client_viewer` reads its own tenant;
/// platform staff pass `tenant_id`).
#[utoipa::path(
    get,
    path = "/client/analytics",
    tag = "Client",
    params(AnalyticsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The figures", body = DataResponse<AnalyticsReport>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn analytics(
    principal: Principal,
    State(state): State<ClientState>,
    ApiQuery(query): ApiQuery<AnalyticsQuery>,
) -> ApiResult<Json<DataResponse<AnalyticsReport>>> {
    let tenant = tenant_of(&principal, query.tenant_id)?;
    let zone = timezone_of(&state, tenant).await?;
    let report = state
        .calls
        .analytics(tenant, &zone, &query, state.clock.now())
        .await?;
    Ok(Json(DataResponse::new(report)))
}

/// The tenant's call figures, as `/client/analytics` gives them.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/analytics",
    tag = "Analytics",
    params(("id" = TenantId, Path, description = "Tenant id"), AnalyticsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The figures", body = DataResponse<AnalyticsReport>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn tenant_analytics(
    principal: Principal,
    State(state): State<ClientState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<AnalyticsQuery>,
) -> ApiResult<Json<DataResponse<AnalyticsReport>>> {
    let tenant = authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    if query.tenant_id.is_some_and(|named| named != id) {
        return Err(ApiError::validation(
            "tenant_id",
            "the path names the tenant; leave tenant_id out",
        ));
    }
    let report = state
        .calls
        .analytics(id, &tenant.timezone, &query, state.clock.now())
        .await?;
    Ok(Json(DataResponse::new(report)))
}

/// `GET /api/tenants/{id}/agents/{agentId}/compare`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompareQuery {
    /// The version compared against (say, the one in production).
    #[serde(rename = "versionA")]
    #[param(rename = "versionA")]
    pub version_a: AgentVersionId,
    /// The version compared (say, the new prompt).
    #[serde(rename = "versionB")]
    #[param(rename = "versionB")]
    pub version_b: AgentVersionId,
    /// First day in the tenant's time zone, `YYYY-MM-DD`; default: 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (at most 366 days after `from`); default: today in the tenant's zone.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// One version's side of a comparison.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionFigures {
    pub agent_version_id: AgentVersionId,
    pub calls: u64,
    pub answered: u64,
    pub successes: u64,
    /// successes / answered.
    pub success_rate: f64,
    pub average_talk_seconds: f64,
    pub p50_talk_seconds: Option<f64>,
    pub p90_talk_seconds: Option<f64>,
}

impl VersionFigures {
    fn of(id: AgentVersionId, c: &Counters) -> Self {
        let figures = MetricSummary::from(c);
        Self {
            agent_version_id: id,
            calls: c.calls,
            answered: c.answered,
            successes: c.successes,
            success_rate: figures.success_rate,
            average_talk_seconds: figures.average_talk_seconds,
            p50_talk_seconds: figures.p50_talk_seconds,
            p90_talk_seconds: figures.p90_talk_seconds,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub version_a: VersionFigures,
    pub version_b: VersionFigures,
    /// B's success rate against A's (answered calls the trials, `success` dispositions the
    /// successes); absent when either has too little data.
    pub z_test: Option<ZTest>,
    /// `true` when `zTest` is absent: a version has fewer than 30 answered calls, or fewer than
    /// 5 successes or 5 failures.
    pub not_enough_data: bool,
    /// The smallest number of answered calls per version the test needs.
    pub min_answered: u64,
}

/// Compare two versions of an agent: each one's answered calls, success rate and talk time,
/// and a two-proportion z-test on the success rates, so an operator knows whether a change
/// helped.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/agents/{agentId}/compare",
    tag = "Analytics",
    params(
        ("id" = TenantId, Path, description = "Tenant id"),
        ("agentId" = AgentId, Path, description = "Agent id"),
        CompareQuery,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The comparison", body = DataResponse<Comparison>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND, AGENT_NOT_FOUND or AGENT_VERSION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn compare_versions(
    principal: Principal,
    State(state): State<ClientState>,
    ApiPath((id, agent)): ApiPath<(TenantId, AgentId)>,
    ApiQuery(query): ApiQuery<CompareQuery>,
) -> ApiResult<Json<DataResponse<Comparison>>> {
    let tenant = authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    if state.agents.get(id, agent).await?.is_none() {
        return Err(agent_not_found(agent).into());
    }
    for version in [query.version_a, query.version_b] {
        if state.agents.version(id, agent, version).await?.is_none() {
            return Err(version_not_found(version).into());
        }
    }
    let range = DayRange::resolve(
        query.from,
        query.to,
        &tenant.timezone,
        state.clock.now(),
        MAX_RANGE_DAYS,
    )?;
    let (a, b) = state
        .calls
        .compare_versions(id, (query.version_a, query.version_b), range)
        .await?;
    let z_test = two_proportion_z_test(a.successes, a.answered, b.successes, b.answered);
    Ok(Json(DataResponse::new(Comparison {
        from: range.from,
        to: range.to,
        version_a: VersionFigures::of(query.version_a, &a),
        version_b: VersionFigures::of(query.version_b, &b),
        not_enough_data: z_test.is_none(),
        z_test,
        min_answered: MIN_ANSWERED_TO_COMPARE,
    })))
}
