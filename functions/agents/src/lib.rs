//! The `agents` function: AI voice agents under `/api/tenants/{id}/agents` (camelCase, paged),
//! their immutable versions, publishing and tool allowlists under `/internal/agents`, and the
//! status each read computes from heartbeats.

pub use gobi_domain::agents::model;
pub use gobi_domain::agents::store;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_domain::tenants::access::authorized_tenant;
use gobi_domain::tenants::store::TenantStore;
use gobi_domain::tools::ToolStore;
use gobi_shared::Config;
use gobi_shared::api_routes;
use gobi_shared::auth::{Access, JwtVerifier, Principal, Role};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, Problems};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::{AgentId, AgentVersionId, TenantId};
use gobi_shared::response::{DataResponse, PageResponse, count_up_to, page_and_limit};
use gobi_shared::routing::ApiRouter;
use gobi_shared::time::Clock;

use crate::model::*;
use crate::store::{AgentStore, agent_not_found, version_not_found};

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct AgentsState {
    /// `Idempotency-Key` records of the create routes.
    pub idempotency: IdempotencyStore,
    pub agents: AgentStore,
    pub tools: ToolStore,
    pub tenants: TenantStore,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
    #[from_ref(skip)]
    pub heartbeat_timeout: chrono::Duration,
}

impl AgentsState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            tools: ToolStore::new(dynamodb.clone(), &config.tables.tools),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            verifier,
            clock,
            heartbeat_timeout: chrono::Duration::seconds(config.heartbeat_timeout_seconds),
        }
    }

    fn view(&self, agent: &Agent) -> AgentView {
        agent.view(self.clock.now(), self.heartbeat_timeout)
    }
}

fn routes() -> ApiRouter<AgentsState> {
    ApiRouter::default()
        .routes(api_routes!(list_agents, create_agent))
        .routes(api_routes!(get_agent, update_agent, delete_agent))
        .routes(api_routes!(agent_events))
        .routes(api_routes!(list_versions, create_version))
        .routes(api_routes!(publish_version))
        .routes(api_routes!(set_version_tools))
}

pub fn router(state: AgentsState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state), keys)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
}

/// The tenant of an agent named only by id (the `/internal/agents` routes): an internal role
/// (else 403) bound to that tenant or the platform's (else the agent is absent).
async fn agent_tenant(
    state: &AgentsState,
    principal: &Principal,
    agent: AgentId,
) -> ApiResult<TenantId> {
    principal.authorize(Access::INTERNAL)?;
    let tenant = state
        .agents
        .tenant_of(agent)
        .await?
        .ok_or_else(|| agent_not_found(agent))?;
    principal.authorize(Access::read(tenant, agent_not_found(agent)))?;
    Ok(tenant)
}

/// List a tenant's agents with their live status.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/agents",
    tag = "Agents",
    params(("id" = TenantId, Path, description = "Tenant id"), ListAgentsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of agents, by name", body = PageResponse<AgentView>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_agents(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<ListAgentsQuery>,
) -> ApiResult<Json<PageResponse<AgentView>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    let mut p = Problems::default();
    let (page, limit) = page_and_limit(query.page, query.limit, &mut p);
    let search = p.check(
        "search",
        match query.search.as_deref().map(str::trim) {
            Some(s) if s.chars().count() > 200 => Err("must be at most 200 characters"),
            Some("") | None => Ok(None),
            Some(s) => Ok(Some(s.to_lowercase())),
        },
    );
    p.finish()?;
    let search = search.flatten();
    let mut views: Vec<AgentView> = state
        .agents
        .list(id)
        .await?
        .iter()
        .map(|a| state.view(a))
        .filter(|v| query.status.is_none_or(|s| v.status == s))
        .filter(|v| {
            search.as_deref().is_none_or(|needle| {
                v.config.name.to_lowercase().contains(needle)
                    || v.config
                        .description
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(needle))
            })
        })
        .collect();
    views.sort_by(|a, b| {
        a.config
            .name
            .to_lowercase()
            .cmp(&b.config.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    Ok(Json(PageResponse::paginate(views, page, limit)))
}

/// Create an agent (platform operators and admins).
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/agents",
    tag = "Agents",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = CreateAgent,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created", body = DataResponse<AgentView>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn create_agent(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<CreateAgent>,
) -> ApiResult<(StatusCode, Json<DataResponse<AgentView>>)> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let config = body.validate()?;
    let now = state.clock.now();
    let agent = Agent {
        id: AgentId::new(),
        tenant_id: id,
        config,
        active_version_id: None,
        active_version_number: None,
        version_count: 0,
        last_heartbeat_at: None,
        workers: Default::default(),
        created_at: now,
        updated_at: now,
    };
    state.agents.create(&agent).await?;
    tracing::info!(tenant_id = %id, agent_id = %agent.id, "agent created");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            state.view(&agent),
            "Agent created successfully",
        )),
    ))
}

/// Get one agent with its live status and workers.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/agents/{agentId}",
    tag = "Agents",
    params(("id" = TenantId, Path, description = "Tenant id"), ("agentId" = AgentId, Path, description = "Agent id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The agent", body = DataResponse<AgentView>),
        (status = 404, description = "TENANT_NOT_FOUND or AGENT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_agent(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath((id, agent_id)): ApiPath<(TenantId, AgentId)>,
) -> ApiResult<Json<DataResponse<AgentView>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    let agent = state
        .agents
        .get(id, agent_id)
        .await?
        .ok_or_else(|| agent_not_found(agent_id))?;
    Ok(Json(DataResponse::new(state.view(&agent))))
}

/// Change an agent's configuration; only the fields sent change. Published versions keep theirs.
#[utoipa::path(
    put,
    path = "/api/tenants/{id}/agents/{agentId}",
    tag = "Agents",
    params(("id" = TenantId, Path, description = "Tenant id"), ("agentId" = AgentId, Path, description = "Agent id")),
    request_body = UpdateAgent,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Updated", body = DataResponse<AgentView>),
        (status = 404, description = "TENANT_NOT_FOUND or AGENT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn update_agent(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath((id, agent_id)): ApiPath<(TenantId, AgentId)>,
    ApiJson(body): ApiJson<UpdateAgent>,
) -> ApiResult<Json<DataResponse<AgentView>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let agent = state
        .agents
        .update_config(
            id,
            agent_id,
            |current| body.apply(current),
            state.clock.now(),
        )
        .await?;
    Ok(Json(DataResponse::with_message(
        state.view(&agent),
        "Agent updated successfully",
    )))
}

/// Delete an agent with its versions and timeline (platform operators and admins).
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}/agents/{agentId}",
    tag = "Agents",
    params(("id" = TenantId, Path, description = "Tenant id"), ("agentId" = AgentId, Path, description = "Agent id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deleted", body = DataResponse<AgentView>),
        (status = 404, description = "TENANT_NOT_FOUND or AGENT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn delete_agent(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath((id, agent_id)): ApiPath<(TenantId, AgentId)>,
) -> ApiResult<Json<DataResponse<AgentView>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let agent = state.agents.delete(id, agent_id).await?;
    tracing::info!(tenant_id = %id, agent_id = %agent_id, "agent deleted");
    Ok(Json(DataResponse::with_message(
        state.view(&agent),
        "Agent deleted",
    )))
}

/// An agent's timeline (status changes), newest first.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/agents/{agentId}/events",
    tag = "Agents",
    params(("id" = TenantId, Path, description = "Tenant id"), ("agentId" = AgentId, Path, description = "Agent id"), EventsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of events", body = EventsPage),
        (status = 404, description = "TENANT_NOT_FOUND or AGENT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn agent_events(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath((id, agent_id)): ApiPath<(TenantId, AgentId)>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    state
        .agents
        .get(id, agent_id)
        .await?
        .ok_or_else(|| agent_not_found(agent_id))?;
    let limit = count_up_to(100, query.limit, 50).map_err(|e| ApiError::validation("limit", e))?;
    let (data, next_cursor) = state
        .agents
        .events(id, agent_id, limit, query.cursor.as_deref())
        .await?;
    Ok(Json(EventsPage { data, next_cursor }))
}

/// An agent's versions, oldest first.
#[utoipa::path(
    get,
    path = "/internal/agents/{agentId}/versions",
    tag = "Agents",
    params(("agentId" = AgentId, Path, description = "Agent id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Every version", body = DataResponse<Vec<AgentVersion>>),
        (status = 404, description = "AGENT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_versions(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath(agent_id): ApiPath<AgentId>,
) -> ApiResult<Json<DataResponse<Vec<AgentVersion>>>> {
    let tenant = agent_tenant(&state, &principal, agent_id).await?;
    Ok(Json(DataResponse::new(
        state.agents.versions(tenant, agent_id).await?,
    )))
}

/// Snapshot the agent's current configuration as its next version.
#[utoipa::path(
    post,
    path = "/internal/agents/{agentId}/versions",
    tag = "Agents",
    params(("agentId" = AgentId, Path, description = "Agent id")),
    request_body = CreateVersion,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The new version", body = DataResponse<AgentVersion>),
        (status = 404, description = "AGENT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn create_version(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath(agent_id): ApiPath<AgentId>,
    ApiJson(body): ApiJson<CreateVersion>,
) -> ApiResult<(StatusCode, Json<DataResponse<AgentVersion>>)> {
    let tenant = agent_tenant(&state, &principal, agent_id).await?;
    let notes = body.notes()?;
    let version = state
        .agents
        .create_version(
            tenant,
            agent_id,
            notes,
            &principal.subject,
            state.clock.now(),
        )
        .await?;
    tracing::info!(tenant_id = %tenant, agent_id = %agent_id, number = version.number, "version created");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(version, "Version created")),
    ))
}

/// Make a version the agent's active one; publishing an older version rolls back.
#[utoipa::path(
    post,
    path = "/internal/agents/{agentId}/versions/{versionId}/publish",
    tag = "Agents",
    params(("agentId" = AgentId, Path, description = "Agent id"), ("versionId" = AgentVersionId, Path, description = "Version id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Published; the agent with its active_version_id", body = DataResponse<AgentView>),
        (status = 404, description = "AGENT_NOT_FOUND or AGENT_VERSION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn publish_version(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath((agent_id, version_id)): ApiPath<(AgentId, AgentVersionId)>,
) -> ApiResult<Json<DataResponse<AgentView>>> {
    let tenant = agent_tenant(&state, &principal, agent_id).await?;
    let version = state
        .agents
        .version(tenant, agent_id, version_id)
        .await?
        .ok_or_else(|| version_not_found(version_id))?;
    let agent = state
        .agents
        .publish(tenant, agent_id, &version, state.clock.now())
        .await?;
    tracing::info!(tenant_id = %tenant, agent_id = %agent_id, number = version.number, "version published");
    Ok(Json(DataResponse::with_message(
        state.view(&agent),
        format!("Version {} is active", version.number),
    )))
}

/// Set a version's tool allowlist; every tool must be the agent's tenant's.
#[utoipa::path(
    post,
    path = "/internal/agents/{agentId}/versions/{versionId}/tools",
    tag = "Agents",
    params(("agentId" = AgentId, Path, description = "Agent id"), ("versionId" = AgentVersionId, Path, description = "Version id")),
    request_body = SetTools,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The version with its allowlist", body = DataResponse<AgentVersion>),
        (status = 404, description = "AGENT_NOT_FOUND, AGENT_VERSION_NOT_FOUND or TOOL_NOT_FOUND (details list the missing ids)", body = ErrorBody),
    )
)]
async fn set_version_tools(
    principal: Principal,
    State(state): State<AgentsState>,
    ApiPath((agent_id, version_id)): ApiPath<(AgentId, AgentVersionId)>,
    ApiJson(body): ApiJson<SetTools>,
) -> ApiResult<Json<DataResponse<AgentVersion>>> {
    let tenant = agent_tenant(&state, &principal, agent_id).await?;
    let mut unique = body.tool_ids.clone();
    unique.sort();
    unique.dedup();
    let mut p = Problems::default();
    p.check(
        "tool_ids",
        match body.tool_ids.len() {
            n if n > 50 => Err("at most 50 tools"),
            n if n != unique.len() => Err("names a tool twice"),
            _ => Ok(()),
        },
    );
    p.finish()?;
    state
        .agents
        .set_tools(&state.tools, tenant, agent_id, version_id, &body.tool_ids)
        .await?;
    let version = state
        .agents
        .version(tenant, agent_id, version_id)
        .await?
        .ok_or_else(|| version_not_found(version_id))?;
    Ok(Json(DataResponse::with_message(
        version,
        "Tool allowlist saved",
    )))
}
