//! The `webhooks` function: a tenant's webhook endpoints (`/api/tenants/{id}/webhooks`) — URL,
//! event types, active — with a signing secret shown once at creation and at each rotation, and
//! each endpoint's deliveries with their attempts, which can be delivered again. Operators
//! write, viewers read. The `webhook-worker` delivers (`gobi_domain::webhooks`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_domain::tenants::access::authorized_tenant;
use gobi_domain::tenants::store::TenantStore;
use gobi_domain::webhooks::delivery::{Deliverer, hint_of, new_secret};
use gobi_domain::webhooks::model::{Delivery, Endpoint, EventType, MAX_ENDPOINTS};
use gobi_domain::webhooks::store::{delivery_not_found, endpoint_not_found};
use gobi_shared::Config;
use gobi_shared::api_routes;
use gobi_shared::auth::{JwtVerifier, Principal, Role};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, Problems};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::TenantId;
use gobi_shared::outbound::check_url;
use gobi_shared::response::{DataResponse, count_up_to};
use gobi_shared::routing::ApiRouter;
use gobi_shared::secrets::SealedFor;
use gobi_shared::time::Clock;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct WebhooksState {
    pub idempotency: IdempotencyStore,
    pub tenants: TenantStore,
    /// The endpoints and deliveries, the secrets' KMS key, and the queue of redeliveries.
    pub deliverer: Deliverer,
    pub verifier: Arc<JwtVerifier>,
    pub clock: Clock,
}

impl WebhooksState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        kms: aws_sdk_kms::Client,
        verifier: Arc<JwtVerifier>,
        clock: Clock,
    ) -> Self {
        Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            deliverer: Deliverer::from_config(config, dynamodb, sqs, Some(kms)),
            verifier,
            clock,
        }
    }
}

fn routes() -> ApiRouter<WebhooksState> {
    ApiRouter::default()
        .routes(api_routes!(list_endpoints, create_endpoint))
        .routes(api_routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(api_routes!(rotate_secret))
        .routes(api_routes!(list_deliveries))
        .routes(api_routes!(get_delivery))
        .routes(api_routes!(redeliver))
}

pub fn router(state: WebhooksState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state), keys)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
}

/// `POST /api/tenants/{id}/webhooks` and `PUT …/{endpointId}`: a create needs `url` and
/// `eventTypes`; an update changes only the fields sent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointFields {
    /// https, reaching a public address (http and this machine's loopback in local runs).
    #[schema(example = "https://hooks.example.com/gobi", max_length = 2000)]
    pub url: Option<String>,
    /// One or more of the event types.
    #[schema(min_items = 1)]
    pub event_types: Option<Vec<EventType>>,
    /// Default true. Turning an endpoint on again clears why it was disabled.
    pub active: Option<bool>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// An endpoint with its signing secret: shown at creation and rotation, never again.
// No `Debug`: the secret never reaches a log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_…`: verify `webhook-signature` with it (Standard Webhooks). Shown once.
    #[schema(value_type = String, example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

impl EndpointFields {
    /// Applies the fields sent to `endpoint`, checking each (the URL against SSRF).
    async fn apply(
        self,
        mut endpoint: Endpoint,
        state: &WebhooksState,
        p: &mut Problems,
    ) -> Endpoint {
        if let Some(url) = self.url {
            if url.len() > 2000 {
                p.push("url", "at most 2000 characters");
            } else {
                match check_url(&url, "url", state.deliverer.reach).await {
                    Ok(checked) => endpoint.url = checked.url.to_string(),
                    Err(ApiError::Validation(errors)) => {
                        for e in errors {
                            p.push("url", e.message);
                        }
                    }
                    Err(other) => p.push("url", other.to_string()),
                }
            }
        }
        if let Some(mut types) = self.event_types {
            types.sort();
            types.dedup();
            if types.is_empty() {
                p.push("eventTypes", "name at least one event type");
            }
            endpoint.event_types = types;
        }
        if let Some(active) = self.active {
            if active && !endpoint.active {
                endpoint.disabled_reason = None;
                endpoint.failing_since = None;
            }
            endpoint.active = active;
        }
        if let Some(description) = self.description {
            match gobi_shared::text::optional(Some(&description), 500) {
                Ok(d) => endpoint.description = d,
                Err(message) => p.push("description", message),
            }
        }
        endpoint
    }
}

/// Seals a new secret for `endpoint`: (ciphertext, the secret).
async fn sealed_secret(
    state: &WebhooksState,
    endpoint: &Endpoint,
) -> ApiResult<(String, SecretString)> {
    let secrets = state
        .deliverer
        .secrets
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable {
            code: "SECRETS_UNAVAILABLE",
            message: "No KMS key is configured (KMS_KEY_ID) to keep signing secrets".into(),
        })?;
    let secret = new_secret()?;
    let sealed = secrets
        .seal(
            endpoint.tenant_id,
            SealedFor::WebhookEndpoint(endpoint.id),
            &secret,
        )
        .await?;
    Ok((sealed, secret))
}

/// The tenant's webhook endpoints.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/webhooks",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Every endpoint of the tenant (at most 20)", body = DataResponse<Vec<Endpoint>>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_endpoints(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<DataResponse<Vec<Endpoint>>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    Ok(Json(DataResponse::new(
        state.deliverer.store.endpoints(id).await?,
    )))
}

/// Add an endpoint: its signing secret is in this answer and nowhere else.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/webhooks",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = EndpointFields,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Added; `secret` is shown once", body = DataResponse<EndpointWithSecret>),
        (status = 400, description = "VALIDATION_ERROR: a URL that is not https, does not resolve, or reaches a private address; no event types", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "WEBHOOK_LIMIT: the tenant has 20", body = ErrorBody),
    )
)]
async fn create_endpoint(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<EndpointFields>,
) -> ApiResult<(StatusCode, Json<DataResponse<EndpointWithSecret>>)> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let now = state.clock.now();
    let mut p = Problems::default();
    if body.url.is_none() {
        p.push("url", "is required");
    }
    if body.event_types.is_none() {
        p.push("eventTypes", "is required");
    }
    let blank = Endpoint {
        id: uuid::Uuid::now_v7(),
        tenant_id: id,
        url: String::new(),
        event_types: Vec::new(),
        active: true,
        description: None,
        secret_hint: String::new(),
        failing_since: None,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    let mut endpoint = body.apply(blank, &state, &mut p).await;
    p.finish()?;
    if state.deliverer.store.endpoints(id).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict {
            code: "WEBHOOK_LIMIT",
            message: format!("A tenant has at most {MAX_ENDPOINTS} webhook endpoints"),
        });
    }
    let (sealed, secret) = sealed_secret(&state, &endpoint).await?;
    endpoint.secret_hint = hint_of(&secret);
    state
        .deliverer
        .store
        .create_endpoint(&endpoint, &sealed)
        .await?;
    tracing::info!(tenant_id = %id, endpoint_id = %endpoint.id, "webhook endpoint added");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::new(EndpointWithSecret {
            endpoint,
            secret: secret.expose_secret().to_owned(),
        })),
    ))
}

async fn endpoint_of(
    state: &WebhooksState,
    principal: &Principal,
    id: TenantId,
    endpoint: uuid::Uuid,
    role: Role,
) -> ApiResult<Endpoint> {
    authorized_tenant(&state.tenants, principal, id, role).await?;
    Ok(state
        .deliverer
        .store
        .endpoint(id, endpoint)
        .await?
        .ok_or_else(|| endpoint_not_found(endpoint))?
        .0)
}

/// One endpoint.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/webhooks/{endpointId}",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id"), ("endpointId" = uuid::Uuid, Path, description = "Endpoint id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The endpoint", body = DataResponse<Endpoint>),
        (status = 404, description = "TENANT_NOT_FOUND or WEBHOOK_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_endpoint(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath((id, endpoint)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<Endpoint>>> {
    let endpoint = endpoint_of(&state, &principal, id, endpoint, Role::Viewer).await?;
    Ok(Json(DataResponse::new(endpoint)))
}

/// Change an endpoint's URL, event types, description, or turn it off and on.
#[utoipa::path(
    put,
    path = "/api/tenants/{id}/webhooks/{endpointId}",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id"), ("endpointId" = uuid::Uuid, Path, description = "Endpoint id")),
    request_body = EndpointFields,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Changed", body = DataResponse<Endpoint>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or WEBHOOK_NOT_FOUND", body = ErrorBody),
    )
)]
async fn update_endpoint(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath((id, endpoint)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiJson(body): ApiJson<EndpointFields>,
) -> ApiResult<Json<DataResponse<Endpoint>>> {
    let current = endpoint_of(&state, &principal, id, endpoint, Role::Operator).await?;
    let mut p = Problems::default();
    let mut changed = body.apply(current.clone(), &state, &mut p).await;
    p.finish()?;
    if changed != current {
        changed.updated_at = state.clock.now();
        state.deliverer.store.save_endpoint(&changed).await?;
    }
    Ok(Json(DataResponse::new(changed)))
}

/// Remove an endpoint; its deliveries expire with their 30 days.
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}/webhooks/{endpointId}",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id"), ("endpointId" = uuid::Uuid, Path, description = "Endpoint id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "TENANT_NOT_FOUND or WEBHOOK_NOT_FOUND", body = ErrorBody),
    )
)]
async fn delete_endpoint(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath((id, endpoint)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<StatusCode> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    state.deliverer.store.delete_endpoint(id, endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, in this answer and nowhere else; the old one stops signing at once.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/webhooks/{endpointId}/rotate-secret",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id"), ("endpointId" = uuid::Uuid, Path, description = "Endpoint id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Rotated; `secret` is shown once", body = DataResponse<EndpointWithSecret>),
        (status = 404, description = "TENANT_NOT_FOUND or WEBHOOK_NOT_FOUND", body = ErrorBody),
    )
)]
async fn rotate_secret(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath((id, endpoint)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<EndpointWithSecret>>> {
    let mut endpoint = endpoint_of(&state, &principal, id, endpoint, Role::Operator).await?;
    let (sealed, secret) = sealed_secret(&state, &endpoint).await?;
    let now = state.clock.now();
    endpoint.secret_hint = hint_of(&secret);
    endpoint.updated_at = now;
    state
        .deliverer
        .store
        .set_secret(id, endpoint.id, &sealed, &endpoint.secret_hint, now)
        .await?;
    Ok(Json(DataResponse::new(EndpointWithSecret {
        endpoint,
        secret: secret.expose_secret().to_owned(),
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` of the page before.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveriesPage {
    pub data: Vec<Delivery>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

/// An endpoint's deliveries, newest first, with their attempts.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/webhooks/{endpointId}/deliveries",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id"), ("endpointId" = uuid::Uuid, Path, description = "Endpoint id"), DeliveriesQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveriesPage),
        (status = 400, description = "VALIDATION_ERROR (limit, cursor)", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or WEBHOOK_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_deliveries(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath((id, endpoint)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<DeliveriesPage>> {
    let mut p = Problems::default();
    let limit = p.check("limit", count_up_to(100, query.limit, 50));
    p.finish()?;
    let endpoint = endpoint_of(&state, &principal, id, endpoint, Role::Viewer).await?;
    let (data, next_cursor) = state
        .deliverer
        .store
        .deliveries(
            endpoint.id,
            query.cursor.as_deref(),
            i32::try_from(limit.unwrap_or(50)).unwrap_or(50),
        )
        .await?;
    Ok(Json(DeliveriesPage { data, next_cursor }))
}

/// One delivery with its attempts (status, duration, the answer's first characters).
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/webhooks/{endpointId}/deliveries/{deliveryId}",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id"), ("endpointId" = uuid::Uuid, Path, description = "Endpoint id"), ("deliveryId" = uuid::Uuid, Path, description = "Delivery id (the event's)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The delivery", body = DataResponse<Delivery>),
        (status = 404, description = "TENANT_NOT_FOUND, WEBHOOK_NOT_FOUND or DELIVERY_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_delivery(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath((id, endpoint, delivery)): ApiPath<(TenantId, uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<Delivery>>> {
    let endpoint = endpoint_of(&state, &principal, id, endpoint, Role::Viewer).await?;
    let delivery = state
        .deliverer
        .store
        .delivery(endpoint.id, delivery)
        .await?
        .ok_or_else(|| delivery_not_found(delivery))?;
    Ok(Json(DataResponse::new(delivery)))
}

/// Deliver again now (a failed delivery, or one the receiver lost), with a fresh retry
/// schedule; the `webhook-id` stays the same, so a receiver that has it can drop it.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/webhooks/{endpointId}/deliveries/{deliveryId}/redeliver",
    tag = "Webhooks",
    params(("id" = TenantId, Path, description = "Tenant id"), ("endpointId" = uuid::Uuid, Path, description = "Endpoint id"), ("deliveryId" = uuid::Uuid, Path, description = "Delivery id (the event's)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Queued", body = DataResponse<Delivery>),
        (status = 404, description = "TENANT_NOT_FOUND, WEBHOOK_NOT_FOUND or DELIVERY_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "DELIVERY_IN_PROGRESS, or WEBHOOK_DISABLED: turn the endpoint on first", body = ErrorBody),
    )
)]
async fn redeliver(
    principal: Principal,
    State(state): State<WebhooksState>,
    ApiPath((id, endpoint, delivery)): ApiPath<(TenantId, uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<(StatusCode, Json<DataResponse<Delivery>>)> {
    let endpoint = endpoint_of(&state, &principal, id, endpoint, Role::Operator).await?;
    if !endpoint.active {
        return Err(ApiError::Conflict {
            code: "WEBHOOK_DISABLED",
            message: "The endpoint is disabled; turn it on (active: true) first".into(),
        });
    }
    let restarted = state
        .deliverer
        .redeliver(id, endpoint.id, delivery, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::Conflict {
            code: "DELIVERY_IN_PROGRESS",
            message: "An attempt is under way; try again when it ends".into(),
        })?;
    Ok((StatusCode::ACCEPTED, Json(DataResponse::new(restarted))))
}
