//! A tenant's tools: JSON Schema input, unique names, and the n8n webhook each one runs.

use super::*;

pub(crate) fn routes() -> ApiRouter<AutomationState> {
    ApiRouter::default()
        .routes(api_routes!(list_tools, create_tool))
        .routes(api_routes!(get_tool, update_tool))
        .routes(api_routes!(link_endpoint))
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
