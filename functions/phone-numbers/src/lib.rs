//! The `phone-numbers` function: the first seed's phone number endpoints under
//! `/api/tenants/{id}/phone-numbers` (Twilio search and purchase, LiveKit SIP provisioning) and
//! the second seed's routing endpoints under `/internal/phone-numbers`, over one store.

mod internal;
pub mod livekit;
mod purchase;
pub use gobi_domain::phone_numbers::model;
pub use gobi_domain::phone_numbers::store;
pub use gobi_domain::telephony::twilio;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_domain::tenants::access::authorized_tenant;
use gobi_domain::tenants::store::{TenantStore, tenant_not_found};
use gobi_shared::api_routes;
use gobi_shared::auth::{Access, JwtVerifier, Principal, Role};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, Problems};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::{E164, PhoneNumberId, TenantId};
use gobi_shared::response::{DataResponse, PageResponse, count_up_to, page_and_limit};
use gobi_shared::routing::ApiRouter;
use gobi_shared::{Config, time};
use url::Url;

use gobi_domain::agents::store::{AgentStore, agent_not_found};
use gobi_shared::ids::AgentId;

use crate::livekit::{CallTarget, SipProvisioner};
use crate::model::*;
use crate::store::{Claim, PhoneNumberStore, Versioned, number_not_found, number_taken};
use crate::twilio::{NumberSearch, NumberType, TwilioClient, parse_twilio_date};

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct PhoneNumbersState {
    /// `Idempotency-Key` records of the create routes.
    pub idempotency: IdempotencyStore,
    pub numbers: PhoneNumberStore,
    /// A number's agent must be one of its tenant's agents.
    pub agents: AgentStore,
    pub tenants: TenantStore,
    pub verifier: Arc<JwtVerifier>,
    /// `None` when Twilio is not configured; purchase and search then answer 503.
    pub twilio: Option<TwilioClient>,
    /// `None` when LiveKit is not configured; numbers then route by TwiML alone.
    pub sip: Option<Arc<SipProvisioner>>,
    pub webhook_base: Option<Url>,
}

impl PhoneNumbersState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        verifier: Arc<JwtVerifier>,
    ) -> Self {
        Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            numbers: PhoneNumberStore::new(dynamodb.clone(), &config.tables.phone_numbers),
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            verifier,
            twilio: TwilioClient::from_config(&config.twilio),
            sip: SipProvisioner::from_config(&config.livekit).map(Arc::new),
            webhook_base: config.twilio.webhook_base_url.clone(),
        }
    }
}

fn routes() -> ApiRouter<PhoneNumbersState> {
    ApiRouter::default()
        .routes(api_routes!(list_numbers))
        .routes(api_routes!(get_number, update_number, delete_number))
        .merge(purchase::routes())
        .merge(internal::routes())
}

pub fn router(state: PhoneNumbersState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state), keys)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
}

fn not_configured(what: &str) -> ApiError {
    ApiError::Unavailable {
        code: "TWILIO_NOT_CONFIGURED",
        message: format!(
            "{what} needs Twilio: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WEBHOOK_BASE_URL"
        ),
    }
}

fn webhook(base: &Url, path: &str) -> ApiResult<Url> {
    Url::parse(&format!("{}{path}", base.as_str().trim_end_matches('/')))
        .map_err(|e| ApiError::Internal(e.into()))
}

/// A number's agent must exist among its tenant's agents.
async fn check_agent(
    state: &PhoneNumbersState,
    tenant: TenantId,
    agent: Option<AgentId>,
) -> ApiResult<()> {
    if let Some(agent) = agent {
        state
            .agents
            .get(tenant, agent)
            .await?
            .ok_or_else(|| agent_not_found(agent))?;
    }
    Ok(())
}

async fn owned_number(
    state: &PhoneNumbersState,
    tenant: TenantId,
    id: PhoneNumberId,
) -> ApiResult<Versioned> {
    state
        .numbers
        .get(tenant, id)
        .await?
        .ok_or_else(|| number_not_found(id).into())
}

/// List a tenant's numbers.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/phone-numbers",
    tag = "Phone numbers",
    params(("id" = TenantId, Path, description = "Tenant id"), ListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of the tenant's numbers, oldest first", body = PageResponse<PhoneNumberView>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_numbers(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<PageResponse<PhoneNumberView>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    let mut p = Problems::default();
    let (page, limit) = page_and_limit(query.page, query.limit, &mut p);
    p.finish()?;
    let numbers: Vec<PhoneNumberView> = state
        .numbers
        .list(id)
        .await?
        .into_iter()
        .filter(|n| query.is_active.is_none_or(|active| n.is_active() == active))
        .map(|n| n.view())
        .collect();
    Ok(Json(PageResponse::paginate(numbers, page, limit)))
}

/// Get one number.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/phone-numbers/{phoneId}",
    tag = "Phone numbers",
    params(("id" = TenantId, Path, description = "Tenant id"), ("phoneId" = PhoneNumberId, Path, description = "Phone number id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The number", body = DataResponse<PhoneNumberView>),
        (status = 404, description = "TENANT_NOT_FOUND or PHONE_NUMBER_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_number(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath((id, phone_id)): ApiPath<(TenantId, PhoneNumberId)>,
) -> ApiResult<Json<DataResponse<PhoneNumberView>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    let number = owned_number(&state, id, phone_id).await?;
    Ok(Json(DataResponse::new(number.number.view())))
}

/// Change a number's label, agent or active flag; a new agent gets a new LiveKit dispatch rule.
#[utoipa::path(
    put,
    path = "/api/tenants/{id}/phone-numbers/{phoneId}",
    tag = "Phone numbers",
    params(("id" = TenantId, Path, description = "Tenant id"), ("phoneId" = PhoneNumberId, Path, description = "Phone number id")),
    request_body = UpdateNumber,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Updated", body = DataResponse<PhoneNumberView>),
        (status = 404, description = "TENANT_NOT_FOUND or PHONE_NUMBER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PHONE_NUMBER_PROVISIONING (finish the purchase first) or CONCURRENT_MODIFICATION", body = ErrorBody),
        (status = 502, description = "LIVEKIT_PROVISIONING_FAILED", body = ErrorBody),
    )
)]
async fn update_number(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath((id, phone_id)): ApiPath<(TenantId, PhoneNumberId)>,
    ApiJson(body): ApiJson<UpdateNumber>,
) -> ApiResult<Json<DataResponse<PhoneNumberView>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    let new_label = body
        .label
        .and_then(|l| p.check("label", label(l.as_deref())));
    let active = body
        .is_active
        .and_then(|a| p.check("isActive", a.ok_or("may not be null")));
    p.finish()?;
    let current = owned_number(&state, id, phone_id).await?;
    let mut next = current.number.clone();
    if let Some(l) = new_label {
        next.label = l;
    }
    if let Some(active) = active {
        next.status = if active {
            NumberStatus::Active
        } else {
            NumberStatus::Inactive
        };
    }
    if let Some(agent) = body.agent_id {
        next.agent_id = agent;
    }
    let saved = change_number(&state, current, next).await?;
    Ok(Json(DataResponse::with_message(
        saved.view(),
        "Phone number updated successfully",
    )))
}

/// Saves a changed number: refuses numbers mid-purchase, points LiveKit at a new agent first.
async fn change_number(
    state: &PhoneNumbersState,
    current: Versioned,
    mut next: PhoneNumber,
) -> ApiResult<PhoneNumber> {
    if current.number.status.is_pending() {
        return Err(ApiError::conflict(
            "PHONE_NUMBER_PROVISIONING",
            "The number's purchase has not finished; POST it again to finish it",
        ));
    }
    if next == current.number {
        return Ok(next);
    }
    if next.agent_id != current.number.agent_id {
        check_agent(state, next.tenant_id, next.agent_id).await?;
    }
    if next.agent_id != current.number.agent_id
        && let (Some(sip), Some(route)) = (state.sip.as_ref(), current.number.sip.as_ref())
    {
        let target = CallTarget {
            tenant_id: next.tenant_id,
            phone_number_id: next.id,
            e164: &next.e164,
            agent_id: next.agent_id,
        };
        next.sip = Some(sip.retarget(route, target).await?);
    }
    next.updated_at = time::now();
    Ok(state.numbers.save(&next, current.version).await?.number)
}

/// Deactivate a number (its calls are rejected), or with `release=true` (admin) give it back to
/// Twilio, remove its LiveKit trunk and rule, and delete it.
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}/phone-numbers/{phoneId}",
    tag = "Phone numbers",
    params(("id" = TenantId, Path, description = "Tenant id"), ("phoneId" = PhoneNumberId, Path, description = "Phone number id"), DeleteQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deactivated, or released and deleted", body = DataResponse<PhoneNumberView>),
        (status = 404, description = "TENANT_NOT_FOUND or PHONE_NUMBER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PHONE_NUMBER_PROVISIONING or CONCURRENT_MODIFICATION", body = ErrorBody),
        (status = 502, description = "TWILIO_UNAVAILABLE or LIVEKIT_PROVISIONING_FAILED while releasing", body = ErrorBody),
        (status = 503, description = "TWILIO_NOT_CONFIGURED (release only)", body = ErrorBody),
    )
)]
async fn delete_number(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath((id, phone_id)): ApiPath<(TenantId, PhoneNumberId)>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<Json<DataResponse<PhoneNumberView>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let current = owned_number(&state, id, phone_id).await?;
    if query.release != Some(true) {
        let mut next = current.number.clone();
        next.status = NumberStatus::Inactive;
        let saved = change_number(&state, current, next).await?;
        return Ok(Json(DataResponse::with_message(
            saved.view(),
            "Phone number deactivated successfully",
        )));
    }
    principal.authorize(Access::admin(id, tenant_not_found(id)))?;
    let twilio = state
        .twilio
        .as_ref()
        .ok_or_else(|| not_configured("Releasing numbers"))?;
    let mut current = current;
    if let (Some(sip), Some(route)) = (state.sip.as_ref(), current.number.sip.as_ref()) {
        sip.remove(route).await?;
        let mut next = current.number.clone();
        next.sip = None;
        next.status = NumberStatus::Inactive;
        next.updated_at = time::now();
        current = state.numbers.save(&next, current.version).await?;
    }
    if let Some(sid) = current.number.twilio_sid.as_deref() {
        twilio
            .release(sid)
            .await
            .map_err(twilio::TwilioError::into_api_error)?;
    }
    state
        .numbers
        .remove(&current.number, current.version)
        .await?;
    tracing::info!(tenant_id = %id, phone_number_id = %phone_id, "phone number released");
    Ok(Json(DataResponse::with_message(
        current.number.view(),
        "Phone number released and deleted",
    )))
}
