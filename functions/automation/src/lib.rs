//! The `automation` function: the automation gateway. Tenants' n8n integrations (tested before
//! they are stored, secrets under KMS), tools with JSON Schema inputs linked to n8n webhooks, the
//! catalog a call's agent may use, and guarded execution: schema, allowlist, per-call rate limit,
//! then n8n with a timeout and bounded retries, every run recorded.

pub mod model;
pub mod n8n;
pub mod outbound;
pub mod secrets;
pub use gobi_domain::integrations::store;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use base64::Engine;
use gobi_domain::agents::store::AgentStore;
use gobi_domain::calls::{Call, CallEvent, CallStore, call_not_found};
use gobi_domain::tenants::store::{TenantStore, tenant_not_found};
use gobi_domain::tools::{Tool, ToolEndpoint, ToolStore};
use gobi_shared::Config;
use gobi_shared::auth::{Access, JwtVerifier, Principal};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, FieldError, Problems};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::{TenantId, ToolId};
use gobi_shared::response::DataResponse;
use gobi_shared::time::Clock;
use secrecy::{ExposeSecret, SecretString};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::model::*;
use crate::n8n::{N8nRequest, Outcome};
use crate::secrets::{SealedFor, SecretBox};
use crate::store::{AutomationStore, integration_not_found};

/// n8n's answer is kept up to this size in the execution record.
const MAX_RECORDED_RESPONSE: usize = 8 * 1024;
const DEFAULT_HEADER: &str = "X-N8N-API-KEY";

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct AutomationState {
    /// `Idempotency-Key` records of the create routes.
    pub idempotency: IdempotencyStore,
    pub tools: ToolStore,
    pub store: AutomationStore,
    pub calls: CallStore,
    pub agents: AgentStore,
    pub tenants: TenantStore,
    /// `None` without a KMS key: integrations with secrets cannot be stored.
    pub secrets: Option<SecretBox>,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
    /// Local and test environments may call plain-http and internal n8n.
    #[from_ref(skip)]
    pub allow_local: bool,
    #[from_ref(skip)]
    pub max_executions_per_minute: u32,
    #[from_ref(skip)]
    pub require_mapping: bool,
    /// All attempts of one n8n call, backoffs included, fit in this (inside the function's timeout).
    #[from_ref(skip)]
    pub execution_budget: Duration,
}

impl AutomationState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            tools: ToolStore::new(dynamodb.clone(), &config.tables.tools),
            store: AutomationStore::new(dynamodb.clone(), &config.tables.tools),
            calls: CallStore::new(dynamodb.clone(), &config.tables.calls),
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            secrets: config
                .kms_key_id
                .as_ref()
                .map(|key| SecretBox::new(kms, key)),
            verifier,
            clock,
            allow_local: config.environment.allows_local_network(),
            max_executions_per_minute: config.automation_max_executions_per_minute,
            require_mapping: config.automation_require_agent_tool_mapping,
            execution_budget: Duration::from_millis(config.automation_execution_budget_ms),
        }
    }
}

impl AutomationState {
    /// The KMS box sealed values need; 503 `KMS_NOT_CONFIGURED` without `KMS_KEY_ID`.
    fn vault(&self) -> ApiResult<&SecretBox> {
        self.secrets.as_ref().ok_or_else(|| ApiError::Unavailable {
            code: "KMS_NOT_CONFIGURED",
            message: "Secrets need KMS_KEY_ID".into(),
        })
    }

    /// Opens `ciphertext`, when there is one, for `owner` of `tenant`.
    async fn open(
        &self,
        tenant: TenantId,
        owner: SealedFor,
        ciphertext: Option<&str>,
    ) -> ApiResult<Option<SecretString>> {
        match ciphertext {
            Some(c) => Ok(Some(self.vault()?.open(tenant, owner, c).await?)),
            None => Ok(None),
        }
    }
}

fn routes() -> OpenApiRouter<AutomationState> {
    OpenApiRouter::default()
        .routes(routes!(test_integration))
        .routes(routes!(list_integrations))
        .routes(routes!(get_integration))
        .routes(routes!(list_tools, create_tool))
        .routes(routes!(get_tool, update_tool))
        .routes(routes!(link_endpoint))
        .routes(routes!(catalog))
        .routes(routes!(execute_by_id))
        .routes(routes!(execute_by_name))
}

pub fn router(state: AutomationState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state).split_for_parts().0, keys)
}

pub fn openapi() -> OpenApi {
    routes().split_for_parts().1
}

async fn existing_tenant(state: &AutomationState, id: TenantId) -> ApiResult<()> {
    state
        .tenants
        .get(id)
        .await?
        .map(|_| ())
        .ok_or_else(|| tenant_not_found(id).into())
}

fn tool_not_found(what: impl std::fmt::Display) -> ApiError {
    ApiError::not_found("TOOL_NOT_FOUND", format!("Tool {what} not found"))
}

/// The headers that authenticate to n8n.
fn auth_headers(integration: &Integration, secret: Option<&SecretString>) -> Vec<(String, String)> {
    let Some(secret) = secret else {
        return Vec::new();
    };
    let value = secret.expose_secret();
    match integration.auth_type {
        AuthType::None => Vec::new(),
        AuthType::HeaderToken => {
            vec![(
                integration
                    .header_name
                    .clone()
                    .unwrap_or_else(|| DEFAULT_HEADER.into()),
                value.to_owned(),
            )]
        }
        AuthType::Basic => vec![(
            "Authorization".into(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(value)
            ),
        )],
        AuthType::Bearer => vec![("Authorization".into(), format!("Bearer {value}"))],
    }
}

/// Test a tenant's n8n (with a timeout and bounded retries) and, only if it answers, store the
/// integration with its secret encrypted by KMS.
#[utoipa::path(
    post,
    path = "/internal/integrations/n8n/test",
    tag = "Automation",
    request_body = TestIntegration,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Reachable; stored (without the secret)", body = DataResponse<Integration>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 502, description = "N8N_UNREACHABLE: nothing stored", body = ErrorBody),
        (status = 503, description = "KMS_NOT_CONFIGURED", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn test_integration(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiJson(body): ApiJson<TestIntegration>,
) -> ApiResult<(StatusCode, Json<DataResponse<Integration>>)> {
    principal.authorize(Access::write(
        body.tenant_id,
        tenant_not_found(body.tenant_id),
    ))?;
    existing_tenant(&state, body.tenant_id).await?;
    let mut p = Problems::default();
    let secret = body
        .secret
        .clone()
        .filter(|s| !s.expose_secret().is_empty());
    match (body.auth_type, &secret) {
        (AuthType::None, Some(_)) => p.push("secret", "must be absent when auth_type is none"),
        (AuthType::None, None) => {}
        (_, None) => p.push("secret", "is required for this auth_type"),
        (AuthType::Basic, Some(s)) if !s.expose_secret().contains(':') => {
            p.push("secret", "must be user:password for basic")
        }
        _ => {}
    }
    if let Some(header) = &body.header_name
        && (header.is_empty()
            || header.len() > 100
            || !header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        p.push("header_name", "must be a header name like X-N8N-API-KEY");
    }
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        p.push("name", "must be at most 100 characters");
    }
    p.finish()?;
    let base = body.base_url.trim().trim_end_matches('/').to_owned();
    let health = outbound::check(&format!("{base}/healthz"), state.allow_local).await?;
    let now = state.clock.now();
    let integration = Integration {
        id: uuid::Uuid::now_v7(),
        tenant_id: body.tenant_id,
        name: name.unwrap_or_else(|| health.url.host_str().unwrap_or("n8n").to_owned()),
        base_url: base,
        auth_type: body.auth_type,
        header_name: body
            .header_name
            .clone()
            .filter(|_| body.auth_type == AuthType::HeaderToken),
        has_secret: secret.is_some(),
        created_at: now,
        last_tested_at: now,
    };
    let probe = N8nRequest {
        target: health,
        method: reqwest::Method::GET,
        headers: auth_headers(&integration, secret.as_ref()),
        body: None,
        timeout: Duration::from_secs(5),
        max_attempts: 3,
        budget: state.execution_budget,
    };
    let result = n8n::send(&probe).await;
    if !matches!(result.outcome, Outcome::Success { .. }) {
        let reason = match &result.outcome {
            Outcome::Status { status, .. } => format!("answered {status}"),
            Outcome::TimedOut => "timed out".to_owned(),
            Outcome::Unreachable(why) => why.clone(),
            Outcome::Success { .. } => unreachable!(),
        };
        return Err(ApiError::Dependency {
            status: StatusCode::BAD_GATEWAY,
            code: "N8N_UNREACHABLE",
            message: format!("n8n did not pass the test: {reason}"),
            details: Some(serde_json::json!({"attempts": result.attempts})),
            twilio_code: None,
        });
    }
    let ciphertext = match &secret {
        Some(secret) => Some(
            state
                .vault()?
                .seal(
                    integration.tenant_id,
                    SealedFor::Integration(integration.id),
                    secret,
                )
                .await?,
        ),
        None => None,
    };
    state
        .store
        .put_integration(&integration, ciphertext)
        .await?;
    tracing::info!(tenant_id = %integration.tenant_id, integration_id = %integration.id, "n8n integration stored");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            integration,
            "n8n is reachable; integration stored",
        )),
    ))
}

/// A tenant's n8n integrations (never their secrets).
#[utoipa::path(
    get,
    path = "/internal/integrations",
    tag = "Automation",
    params(TenantQuery),
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The tenant's integrations", body = DataResponse<Vec<Integration>>))
)]
async fn list_integrations(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiQuery(query): ApiQuery<TenantQuery>,
) -> ApiResult<Json<DataResponse<Vec<Integration>>>> {
    principal.authorize(Access::write(
        query.tenant_id,
        tenant_not_found(query.tenant_id),
    ))?;
    Ok(Json(DataResponse::new(
        state.store.integrations(query.tenant_id).await?,
    )))
}

/// One n8n integration (never its secret).
#[utoipa::path(
    get,
    path = "/internal/integrations/{integrationId}",
    tag = "Automation",
    params(("integrationId" = uuid::Uuid, Path, description = "Integration id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The integration", body = DataResponse<Integration>),
        (status = 404, description = "INTEGRATION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_integration(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<Json<DataResponse<Integration>>> {
    principal.authorize(Access::INTERNAL)?;
    let tenant = state
        .store
        .integration_tenant(id)
        .await?
        .ok_or_else(|| integration_not_found(id))?;
    principal.authorize(Access::read(tenant, integration_not_found(id)))?;
    let (integration, _) = state
        .store
        .integration(tenant, id)
        .await?
        .ok_or_else(|| integration_not_found(id))?;
    Ok(Json(DataResponse::new(integration)))
}

fn tool_name(raw: &str) -> Result<String, &'static str> {
    let valid = (1..=64).contains(&raw.len())
        && raw.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("1 to 64 letters, digits, _ or -, starting with a letter")
    }
}

fn description(raw: &str) -> Result<String, &'static str> {
    match raw.trim() {
        "" => Err("is required"),
        d if d.chars().count() > 1000 => Err("must be at most 1000 characters"),
        d => Ok(d.to_owned()),
    }
}

/// A tool's input schema must itself be a valid JSON Schema describing an object.
fn input_schema(raw: &serde_json::Value) -> Result<serde_json::Value, String> {
    if !raw.is_object() {
        return Err("must be a JSON Schema object".into());
    }
    jsonschema::validator_for(raw).map_err(|e| format!("is not a valid JSON Schema: {e}"))?;
    if serde_json::to_vec(raw)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
        > 32 * 1024
    {
        return Err("must be at most 32 KiB".into());
    }
    Ok(raw.clone())
}

fn timeout(raw: u32) -> Result<u32, &'static str> {
    if (100..=60_000).contains(&raw) {
        Ok(raw)
    } else {
        Err("must be between 100 and 60000 ms")
    }
}

/// Create a tool (platform operators and admins).
#[utoipa::path(
    post,
    path = "/internal/tools",
    tag = "Automation",
    request_body = CreateTool,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created", body = DataResponse<ToolView>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "TOOL_NAME_EXISTS", body = ErrorBody),
    )
)]
async fn create_tool(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiJson(body): ApiJson<CreateTool>,
) -> ApiResult<(StatusCode, Json<DataResponse<ToolView>>)> {
    principal.authorize(Access::write(
        body.tenant_id,
        tenant_not_found(body.tenant_id),
    ))?;
    existing_tenant(&state, body.tenant_id).await?;
    let mut p = Problems::default();
    let name = p.check("name", tool_name(&body.name));
    let description = p.check("description", description(&body.description));
    let schema = p.check("input_schema", input_schema(&body.input_schema));
    let timeout_ms = p.check("timeout_ms", timeout(body.timeout_ms.unwrap_or(10_000)));
    p.finish()?;
    let now = state.clock.now();
    let tool = Tool {
        id: ToolId::new(),
        tenant_id: body.tenant_id,
        name: name.expect("checked"),
        description: description.expect("checked"),
        input_schema: schema.expect("checked"),
        timeout_ms: timeout_ms.expect("checked"),
        endpoint: None,
        created_at: now,
        updated_at: now,
    };
    state.tools.create(&tool).await?;
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            ToolView::from(&tool),
            "Tool created",
        )),
    ))
}

/// A tenant's tools, by name.
#[utoipa::path(
    get,
    path = "/internal/tools",
    tag = "Automation",
    params(TenantQuery),
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The tenant's tools", body = DataResponse<Vec<ToolView>>))
)]
async fn list_tools(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiQuery(query): ApiQuery<TenantQuery>,
) -> ApiResult<Json<DataResponse<Vec<ToolView>>>> {
    principal.authorize(Access::write(
        query.tenant_id,
        tenant_not_found(query.tenant_id),
    ))?;
    let tools = state.tools.list(query.tenant_id).await?;
    Ok(Json(DataResponse::new(
        tools.iter().map(ToolView::from).collect(),
    )))
}

async fn tool_by_id(state: &AutomationState, principal: &Principal, id: ToolId) -> ApiResult<Tool> {
    let tenant = state
        .tools
        .tenant_of(id)
        .await?
        .ok_or_else(|| tool_not_found(id))?;
    principal.authorize(Access::read(tenant, tool_not_found(id)))?;
    state
        .tools
        .get(tenant, id)
        .await?
        .ok_or_else(|| tool_not_found(id))
}

/// One tool.
#[utoipa::path(
    get,
    path = "/internal/tools/{toolId}",
    tag = "Automation",
    params(("toolId" = ToolId, Path, description = "Tool id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The tool", body = DataResponse<ToolView>),
        (status = 404, description = "TOOL_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_tool(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiPath(id): ApiPath<ToolId>,
) -> ApiResult<Json<DataResponse<ToolView>>> {
    principal.authorize(Access::INTERNAL)?;
    let tool = tool_by_id(&state, &principal, id).await?;
    Ok(Json(DataResponse::new(ToolView::from(&tool))))
}

/// Change a tool; only the fields sent change.
#[utoipa::path(
    put,
    path = "/internal/tools/{toolId}",
    tag = "Automation",
    params(("toolId" = ToolId, Path, description = "Tool id")),
    request_body = UpdateTool,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Updated", body = DataResponse<ToolView>),
        (status = 404, description = "TOOL_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "TOOL_NAME_EXISTS or CONCURRENT_MODIFICATION", body = ErrorBody),
    )
)]
async fn update_tool(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiPath(id): ApiPath<ToolId>,
    ApiJson(body): ApiJson<UpdateTool>,
) -> ApiResult<Json<DataResponse<ToolView>>> {
    principal.authorize(Access::INTERNAL)?;
    let current = tool_by_id(&state, &principal, id).await?;
    let mut p = Problems::default();
    let mut next = current.clone();
    if let Some(name) = body
        .name
        .as_deref()
        .and_then(|n| p.check("name", tool_name(n)))
    {
        next.name = name;
    }
    if let Some(d) = body
        .description
        .as_deref()
        .and_then(|d| p.check("description", description(d)))
    {
        next.description = d;
    }
    if let Some(schema) = body
        .input_schema
        .as_ref()
        .and_then(|s| p.check("input_schema", input_schema(s)))
    {
        next.input_schema = schema;
    }
    if let Some(t) = body
        .timeout_ms
        .and_then(|t| p.check("timeout_ms", timeout(t)))
    {
        next.timeout_ms = t;
    }
    p.finish()?;
    if next == current {
        return Ok(Json(DataResponse::new(ToolView::from(&current))));
    }
    next.updated_at = state
        .clock
        .now()
        .max(current.updated_at + chrono::Duration::milliseconds(1));
    state.tools.replace(&current, &next).await?;
    Ok(Json(DataResponse::with_message(
        ToolView::from(&next),
        "Tool updated",
    )))
}

/// Link a tool to a webhook of one of its tenant's n8n integrations.
#[utoipa::path(
    post,
    path = "/internal/tools/{toolId}/endpoints",
    tag = "Automation",
    params(("toolId" = ToolId, Path, description = "Tool id")),
    request_body = LinkEndpoint,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Linked", body = DataResponse<ToolView>),
        (status = 404, description = "TOOL_NOT_FOUND or INTEGRATION_NOT_FOUND (another tenant's counts as none)", body = ErrorBody),
    )
)]
async fn link_endpoint(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiPath(id): ApiPath<ToolId>,
    ApiJson(body): ApiJson<LinkEndpoint>,
) -> ApiResult<Json<DataResponse<ToolView>>> {
    principal.authorize(Access::INTERNAL)?;
    let current = tool_by_id(&state, &principal, id).await?;
    let mut p = Problems::default();
    let path_ok = body.webhook_path.starts_with('/')
        && body.webhook_path.len() <= 512
        && !body.webhook_path.contains("..")
        && body
            .webhook_path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.~-".contains(&b));
    p.require("webhook_path", path_ok, "a path like /webhook/lookup-order");
    let method = body
        .method
        .clone()
        .unwrap_or_else(|| "POST".into())
        .to_ascii_uppercase();
    p.require(
        "method",
        ["GET", "POST", "PUT", "PATCH"].contains(&method.as_str()),
        "GET, POST, PUT or PATCH",
    );
    let reserved = [
        "host",
        "authorization",
        "content-length",
        "content-type",
        "idempotency-key",
        "transfer-encoding",
        "connection",
    ];
    let headers_ok = body.headers_template.len() <= 20
        && body.headers_template.iter().all(|(name, value)| {
            !name.is_empty()
                && name.len() <= 100
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !reserved.contains(&name.to_ascii_lowercase().as_str())
                && value.expose_secret().len() <= 1000
                && !value.expose_secret().contains(['\r', '\n'])
        });
    p.require(
        "headers_template",
        headers_ok,
        "at most 20 headers; plain names (not Host, Authorization, Content-*, Idempotency-Key); one-line values",
    );
    p.finish()?;
    state
        .store
        .integration(current.tenant_id, body.integration_id)
        .await?
        .ok_or_else(|| integration_not_found(body.integration_id))?;
    // Header values (API keys, more often than not) are sealed like the integration's secret.
    let sealed_headers = if body.headers_template.is_empty() {
        None
    } else {
        let exposed: BTreeMap<&str, &str> = body
            .headers_template
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose_secret()))
            .collect();
        let plain =
            SecretString::from(serde_json::to_string(&exposed).map_err(anyhow::Error::new)?);
        Some(
            state
                .vault()?
                .seal(
                    current.tenant_id,
                    SealedFor::ToolHeaders(current.id),
                    &plain,
                )
                .await
                .map_err(|e| e.context("sealing a tool's headers"))?,
        )
    };
    let mut next = current.clone();
    next.endpoint = Some(ToolEndpoint {
        integration_id: body.integration_id,
        webhook_path: body.webhook_path.clone(),
        method,
        header_names: body.headers_template.keys().cloned().collect(),
        sealed_headers,
    });
    next.updated_at = state
        .clock
        .now()
        .max(current.updated_at + chrono::Duration::milliseconds(1));
    state.tools.replace(&current, &next).await?;
    Ok(Json(DataResponse::with_message(
        ToolView::from(&next),
        "Tool linked to n8n",
    )))
}

/// The call, if the caller is an internal role that may act on its tenant.
async fn runtime_call(
    state: &AutomationState,
    principal: &Principal,
    id: gobi_shared::ids::CallId,
) -> ApiResult<Call> {
    // The role first: a client_viewer learns nothing of which call ids exist.
    principal.authorize(Access::INTERNAL)?;
    let call = state
        .calls
        .find(id)
        .await?
        .ok_or_else(|| call_not_found(id))?;
    principal.authorize(Access::read(call.tenant_id, call_not_found(id)))?;
    Ok(call)
}

/// The tools the call's agent may use: its active version's allowlist (`None` when it has none).
async fn allowlist(state: &AutomationState, call: &Call) -> ApiResult<Vec<ToolId>> {
    let Some(agent_id) = call.agent_id else {
        return Ok(Vec::new());
    };
    let Some(agent) = state.agents.get(call.tenant_id, agent_id).await? else {
        return Ok(Vec::new());
    };
    let Some(version) = agent.active_version_id else {
        return Ok(Vec::new());
    };
    Ok(state
        .agents
        .version(call.tenant_id, agent_id, version)
        .await?
        .map(|v| v.tool_ids)
        .unwrap_or_default())
}

/// The tools a call may use, ready for an LLM.
#[utoipa::path(
    get,
    path = "/internal/automation/tools/catalog",
    tag = "Automation",
    params(CatalogQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Runnable tools of the call's tenant (only the allowlisted ones when mapping is required)", body = DataResponse<Vec<CatalogEntry>>),
        (status = 404, description = "CALL_NOT_FOUND", body = ErrorBody),
    )
)]
async fn catalog(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiQuery(query): ApiQuery<CatalogQuery>,
) -> ApiResult<Json<DataResponse<Vec<CatalogEntry>>>> {
    let call = runtime_call(&state, &principal, query.call_id).await?;
    let allowed = if state.require_mapping {
        Some(allowlist(&state, &call).await?)
    } else {
        None
    };
    let entries = state
        .tools
        .list(call.tenant_id)
        .await?
        .into_iter()
        .filter(|t| t.endpoint.is_some())
        .filter(|t| allowed.as_ref().is_none_or(|ids| ids.contains(&t.id)))
        .map(|t| CatalogEntry {
            id: t.id,
            name: t.name,
            description: t.description,
            input_schema: t.input_schema,
        })
        .collect();
    Ok(Json(DataResponse::new(entries)))
}

/// Run a tool for a call (by id).
#[utoipa::path(
    post,
    path = "/internal/automation/tools/{toolId}/execute",
    tag = "Automation",
    params(("toolId" = ToolId, Path, description = "Tool id")),
    request_body = ExecuteRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "n8n's output", body = DataResponse<ExecutionResult>),
        (status = 400, description = "VALIDATION_ERROR: the input does not match the tool's schema", body = ErrorBody),
        (status = 403, description = "TOOL_NOT_ALLOWED by the agent version's allowlist", body = ErrorBody),
        (status = 404, description = "CALL_NOT_FOUND or TOOL_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "TOOL_NOT_LINKED to an n8n webhook", body = ErrorBody),
        (status = 429, description = "TOO_MANY_EXECUTIONS for this call; see Retry-After", body = ErrorBody),
        (status = 502, description = "N8N_ERROR or N8N_UNREACHABLE (the execution is recorded)", body = ErrorBody),
        (status = 504, description = "N8N_TIMEOUT (the execution is recorded)", body = ErrorBody),
    )
)]
async fn execute_by_id(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiPath(id): ApiPath<ToolId>,
    ApiJson(body): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<DataResponse<ExecutionResult>>> {
    let call = runtime_call(&state, &principal, body.call_id).await?;
    let tool = state
        .tools
        .get(call.tenant_id, id)
        .await?
        .ok_or_else(|| tool_not_found(id))?;
    execute(&state, &call, tool, body).await
}

/// Run a tool for a call (by name).
#[utoipa::path(
    post,
    path = "/internal/automation/tools/by-name/{toolName}/execute",
    tag = "Automation",
    params(("toolName" = String, Path, description = "Tool name")),
    request_body = ExecuteRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "n8n's output", body = DataResponse<ExecutionResult>),
        (status = 403, description = "TOOL_NOT_ALLOWED", body = ErrorBody),
        (status = 404, description = "CALL_NOT_FOUND or TOOL_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "TOOL_NOT_LINKED", body = ErrorBody),
        (status = 429, description = "TOO_MANY_EXECUTIONS", body = ErrorBody),
        (status = 502, description = "N8N_ERROR or N8N_UNREACHABLE", body = ErrorBody),
        (status = 504, description = "N8N_TIMEOUT", body = ErrorBody),
    )
)]
async fn execute_by_name(
    principal: Principal,
    State(state): State<AutomationState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<DataResponse<ExecutionResult>>> {
    let call = runtime_call(&state, &principal, body.call_id).await?;
    let tool = state
        .tools
        .by_name(call.tenant_id, &name)
        .await?
        .ok_or_else(|| tool_not_found(&name))?;
    execute(&state, &call, tool, body).await
}

/// `{{name}}` placeholders in header templates.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{{{name}}}}}"), value)
        })
}

fn capped(body: serde_json::Value) -> (serde_json::Value, bool) {
    let text = body.to_string();
    if text.len() <= MAX_RECORDED_RESPONSE {
        return (body, false);
    }
    let mut end = MAX_RECORDED_RESPONSE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (serde_json::Value::String(text[..end].to_owned()), true)
}

#[tracing::instrument(skip_all, fields(tenant_id = %call.tenant_id, call_id = %call.id))]
async fn execute(
    state: &AutomationState,
    call: &Call,
    tool: Tool,
    body: ExecuteRequest,
) -> ApiResult<Json<DataResponse<ExecutionResult>>> {
    // 1. The input matches the tool's schema.
    let validator = jsonschema::validator_for(&tool.input_schema)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored schema: {e}")))?;
    let problems: Vec<FieldError> = validator
        .iter_errors(&body.input_json)
        .map(|e| {
            let path = e.instance_path().to_string();
            FieldError::new(
                if path.is_empty() {
                    "input_json".to_owned()
                } else {
                    format!("input_json{path}")
                },
                e.to_string(),
            )
        })
        .collect();
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    if body.trace_id.as_ref().is_some_and(|t| {
        t.len() > 200
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
    }) {
        return Err(ApiError::validation(
            "trace_id",
            "at most 200 letters, digits, _ . : -",
        ));
    }
    // 2. The agent's allowlist, when required.
    if state.require_mapping && !allowlist(state, call).await?.contains(&tool.id) {
        return Err(ApiError::Forbidden {
            code: "TOOL_NOT_ALLOWED",
            message: format!("The call's agent may not use {}", tool.name),
        });
    }
    let endpoint = tool.endpoint.clone().ok_or_else(|| {
        ApiError::conflict(
            "TOOL_NOT_LINKED",
            format!("{} has no n8n endpoint", tool.name),
        )
    })?;
    // 3. The per-call rate limit.
    let now = state.clock.now();
    if let Err(retry_after_seconds) = state
        .store
        .take_execution_slot(
            call.tenant_id,
            call.id,
            state.max_executions_per_minute,
            now,
        )
        .await?
    {
        return Err(ApiError::TooManyRequests {
            code: "TOO_MANY_EXECUTIONS",
            message: format!(
                "At most {} tool executions per minute per call",
                state.max_executions_per_minute
            ),
            retry_after_seconds,
        });
    }
    // 4. n8n.
    let (integration, ciphertext) = state
        .store
        .integration(call.tenant_id, endpoint.integration_id)
        .await?
        .ok_or_else(|| {
            ApiError::conflict("TOOL_NOT_LINKED", "The tool's integration no longer exists")
        })?;
    let secret = state
        .open(
            call.tenant_id,
            SealedFor::Integration(integration.id),
            ciphertext.as_deref(),
        )
        .await?;
    let headers_template: BTreeMap<String, String> = match state
        .open(
            call.tenant_id,
            SealedFor::ToolHeaders(tool.id),
            endpoint.sealed_headers.as_deref(),
        )
        .await?
    {
        Some(plain) => serde_json::from_str(plain.expose_secret())
            .map_err(|e| anyhow::Error::new(e).context("a tool's sealed headers"))?,
        None => BTreeMap::new(),
    };
    let target = outbound::check(
        &format!("{}{}", integration.base_url, endpoint.webhook_path),
        state.allow_local,
    )
    .await?;
    let execution_id = uuid::Uuid::now_v7();
    let (execution_text, call_text, tenant_text) = (
        execution_id.to_string(),
        call.id.to_string(),
        call.tenant_id.to_string(),
    );
    let trace = body.trace_id.clone().unwrap_or_default();
    let values = [
        ("execution_id", execution_text.as_str()),
        ("call_id", call_text.as_str()),
        ("tenant_id", tenant_text.as_str()),
        ("trace_id", trace.as_str()),
    ];
    let mut headers: Vec<(String, String)> = headers_template
        .iter()
        .map(|(k, v)| (k.clone(), render(v, &values)))
        .collect();
    headers.extend(auth_headers(&integration, secret.as_ref()));
    headers.push(("Idempotency-Key".into(), execution_text.clone()));
    let method =
        reqwest::Method::from_bytes(endpoint.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let payload = serde_json::json!({
        "execution_id": execution_id,
        "tool": tool.name,
        "call_id": call.id,
        "tenant_id": call.tenant_id,
        "trace_id": body.trace_id,
        "input": body.input_json,
    });
    state
        .calls
        .record_event(
            call.tenant_id,
            &CallEvent {
                id: uuid::Uuid::now_v7(),
                call_id: call.id,
                kind: "tool_execution_started".into(),
                detail: serde_json::json!({"execution_id": execution_id, "tool": tool.name}),
                at: now,
            },
        )
        .await?;
    let request = N8nRequest {
        target,
        body: (method != reqwest::Method::GET).then_some(payload),
        method,
        headers,
        timeout: Duration::from_millis(u64::from(tool.timeout_ms)),
        max_attempts: 3,
        budget: state.execution_budget,
    };
    let result = n8n::send(&request).await;
    // 5. The record, then the answer.
    let (status, http_status, output, error) = match result.outcome {
        Outcome::Success { status, body } => {
            (ExecutionStatus::Succeeded, Some(status), Some(body), None)
        }
        Outcome::Status { status, body } => (
            ExecutionStatus::Failed,
            Some(status),
            Some(body),
            Some(format!("n8n answered {status}")),
        ),
        Outcome::TimedOut => (
            ExecutionStatus::TimedOut,
            None,
            None,
            Some(format!("no answer within {} ms", tool.timeout_ms)),
        ),
        Outcome::Unreachable(why) => (
            ExecutionStatus::Failed,
            None,
            None,
            Some(format!("n8n unreachable: {why}")),
        ),
    };
    let (response, truncated) = match output.clone() {
        Some(o) => {
            let (value, truncated) = capped(o);
            (Some(value), truncated)
        }
        None => (None, false),
    };
    let finished = state.clock.now();
    let execution = Execution {
        id: execution_id,
        tenant_id: call.tenant_id,
        call_id: call.id,
        tool_id: tool.id,
        tool_name: tool.name.clone(),
        trace_id: body.trace_id.clone(),
        input: body.input_json.clone(),
        status,
        attempts: result.attempts,
        latency_ms: result.latency_ms,
        http_status,
        response,
        response_truncated: truncated,
        error: error.clone(),
        started_at: now,
        finished_at: finished,
    };
    state.store.put_execution(&execution).await?;
    state
        .calls
        .count_execution(
            call.tenant_id,
            finished,
            status == ExecutionStatus::Succeeded,
        )
        .await?;
    state
        .calls
        .record_event(call.tenant_id, &CallEvent {
            id: uuid::Uuid::now_v7(),
            call_id: call.id,
            kind: "tool_execution_finished".into(),
            detail: serde_json::json!({"execution_id": execution_id, "tool": tool.name, "status": status, "attempts": result.attempts}),
            at: finished,
        })
        .await?;
    tracing::info!(execution_id = %execution_id, tool = %tool.name, ?status, attempts = result.attempts, "tool executed");
    let details = Some(
        serde_json::json!({"execution_id": execution_id, "attempts": result.attempts, "http_status": http_status}),
    );
    match (status, http_status) {
        (ExecutionStatus::Succeeded, _) => Ok(Json(DataResponse::new(ExecutionResult {
            execution_id,
            status,
            output,
            attempts: result.attempts,
            latency_ms: result.latency_ms,
        }))),
        (ExecutionStatus::TimedOut, _) => Err(ApiError::Dependency {
            status: StatusCode::GATEWAY_TIMEOUT,
            code: "N8N_TIMEOUT",
            message: error.unwrap_or_default(),
            details,
            twilio_code: None,
        }),
        (_, Some(_)) => Err(ApiError::Dependency {
            status: StatusCode::BAD_GATEWAY,
            code: "N8N_ERROR",
            message: error.unwrap_or_default(),
            details,
            twilio_code: None,
        }),
        (_, None) => Err(ApiError::Dependency {
            status: StatusCode::BAD_GATEWAY,
            code: "N8N_UNREACHABLE",
            message: error.unwrap_or_default(),
            details,
            twilio_code: None,
        }),
    }
}
