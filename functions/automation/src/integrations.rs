//! n8n integrations: checked, then stored with their secret sealed by KMS.

use super::*;

pub(crate) fn routes() -> ApiRouter<AutomationState> {
    ApiRouter::default()
        .routes(api_routes!(test_integration))
        .routes(api_routes!(list_integrations))
        .routes(api_routes!(get_integration))
}

/// The headers that authenticate to n8n.
pub(crate) fn auth_headers(
    integration: &Integration,
    secret: Option<&SecretString>,
) -> Vec<(String, String)> {
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
