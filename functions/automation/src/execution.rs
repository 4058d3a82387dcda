//! The runtime's side: the tool catalog of a call, and guarded executions through n8n
//! (schema, allowlist, per-call rate limit, bounded retries, every attempt recorded).

use super::*;
use crate::integrations::auth_headers;
use gobi_domain::calls::StoredCall;

pub(crate) fn routes() -> ApiRouter<AutomationState> {
    ApiRouter::default()
        .routes(api_routes!(catalog))
        .routes(api_routes!(execute_by_id))
        .routes(api_routes!(execute_by_name))
}

/// The call (with the expiry its records take), if the caller is an internal role that may act
/// on its tenant: one GetItem under a tenant token's own tenant, where another tenant's call is
/// absent; the platform's token finds the call's tenant first.
async fn runtime_call(
    state: &AutomationState,
    principal: &Principal,
    id: gobi_shared::ids::CallId,
) -> ApiResult<StoredCall> {
    // The role first: a client_viewer learns nothing of which call ids exist.
    principal.authorize(Access::INTERNAL)?;
    let stored = match principal.only_tenant() {
        Some(own) => state.calls.stored(own, id).await?,
        None => state.calls.find_stored(id).await?,
    }
    .ok_or_else(|| call_not_found(id))?;
    principal.authorize(Access::read(stored.call.tenant_id, call_not_found(id)))?;
    Ok(stored)
}

/// The tools the call's agent may use: the allowlist of the version the call runs (chosen when
/// it opened; for an older call, the agent's active one). Empty when it has none.
async fn allowlist(state: &AutomationState, call: &Call) -> ApiResult<Vec<ToolId>> {
    let Some(agent_id) = call.agent_id else {
        return Ok(Vec::new());
    };
    let version = match call.agent_version_id {
        Some(version) => Some(version),
        None => state
            .agents
            .get(call.tenant_id, agent_id)
            .await?
            .and_then(|agent| agent.active_version_id),
    };
    let Some(version) = version else {
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
    let call = runtime_call(&state, &principal, query.call_id).await?.call;
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
        .get(call.call.tenant_id, id)
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
        .by_name(call.call.tenant_id, &name)
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

/// What one execution reads: the call (by the caller), the tool (by the caller), the version's
/// allowlist when mapping is required (and, for a call older than versions, the agent), the
/// rate-limit slot (a conditional write), the integration, its sealed secret and headers (KMS);
/// what it writes: the `started` event, then one transaction with the execution's record, the
/// `finished` event and the call's counters. The call's expiry comes with the call: nothing
/// reads it again.
#[tracing::instrument(skip_all, fields(tenant_id = %stored.call.tenant_id, call_id = %stored.call.id))]
async fn execute(
    state: &AutomationState,
    stored: &StoredCall,
    tool: Tool,
    body: ExecuteRequest,
) -> ApiResult<Json<DataResponse<ExecutionResult>>> {
    let call = &stored.call;
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
        .record_event_of(
            stored,
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
    let finished_event = CallEvent {
        id: uuid::Uuid::now_v7(),
        call_id: call.id,
        kind: "tool_execution_finished".into(),
        detail: serde_json::json!({"execution_id": execution_id, "tool": tool.name, "status": status, "attempts": result.attempts}),
        at: finished,
    };
    state
        .store
        .record_finished(&state.calls, stored, &execution, &finished_event)
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
