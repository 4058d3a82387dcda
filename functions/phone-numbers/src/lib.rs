//! The `phone-numbers` function: the first seed's phone number endpoints under
//! `/api/tenants/{id}/phone-numbers` (Twilio search and purchase, LiveKit SIP provisioning) and
//! the second seed's routing endpoints under `/internal/phone-numbers`, over one store.

pub mod livekit;
pub use gobi_domain::phone_numbers::model;
pub use gobi_domain::phone_numbers::store;
pub mod twilio;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_domain::tenants::access::authorized_tenant;
use gobi_domain::tenants::store::{TenantStore, tenant_not_found};
use gobi_shared::auth::{Access, JwtVerifier, Principal, Role};
use gobi_shared::error::{ApiError, ApiResult, ErrorBody, Problems};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::{E164, PhoneNumberId, TenantId};
use gobi_shared::response::{DataResponse, PageResponse, count_up_to, page_and_limit};
use gobi_shared::{Config, time};
use url::Url;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

fn routes() -> OpenApiRouter<PhoneNumbersState> {
    OpenApiRouter::default()
        .routes(routes!(available_numbers))
        .routes(routes!(list_numbers, purchase_number))
        .routes(routes!(get_number, update_number, delete_number))
        .routes(routes!(internal_list, internal_register))
        .routes(routes!(internal_assign_agent))
}

pub fn router(state: PhoneNumbersState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state).split_for_parts().0, keys)
}

pub fn openapi() -> OpenApi {
    routes().split_for_parts().1
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

/// Search the numbers Twilio offers.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/phone-numbers/available",
    tag = "Phone numbers",
    params(("id" = TenantId, Path, description = "Tenant id"), AvailableQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Numbers Twilio offers now", body = DataResponse<Vec<AvailableNumberView>>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 502, description = "TWILIO_UNAVAILABLE or TWILIO_AUTH_FAILED", body = ErrorBody),
        (status = 503, description = "TWILIO_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn available_numbers(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<AvailableQuery>,
) -> ApiResult<Json<DataResponse<Vec<AvailableNumberView>>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    let area_code = p.check(
        "areaCode",
        match query.area_code {
            Some(a) if a.len() != 3 || !a.bytes().all(|b| b.is_ascii_digit()) => {
                Err("must be three digits")
            }
            other => Ok(other),
        },
    );
    let contains = p.check(
        "contains",
        match query.contains {
            Some(c)
                if c.is_empty()
                    || c.len() > 16
                    || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*') =>
            {
                Err("1 to 16 digits, letters or *")
            }
            other => Ok(other),
        },
    );
    let country = p.check(
        "country",
        match query.country.as_deref().unwrap_or("US") {
            c if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Ok(c.to_ascii_uppercase())
            }
            _ => Err("must be a two-letter country code"),
        },
    );
    let limit = p.check("limit", count_up_to(50, query.limit, 20));
    p.finish()?;
    let twilio = state
        .twilio
        .as_ref()
        .ok_or_else(|| not_configured("Searching numbers"))?;
    let kind = query.number_type.unwrap_or(NumberType::Local);
    let search = NumberSearch {
        country: country.expect("checked"),
        kind,
        area_code: area_code.expect("checked"),
        contains: contains.expect("checked"),
        limit: limit.expect("checked"),
    };
    let offered = twilio
        .available(&search)
        .await
        .map_err(twilio::TwilioError::into_api_error)?;
    let numbers = offered
        .into_iter()
        .filter_map(|n| {
            let e164 = E164::parse(&n.phone_number).ok()?;
            let caps = n.capabilities.clone();
            Some(AvailableNumberView {
                number: e164.display(),
                phone_number: e164,
                friendly_name: n.friendly_name,
                locality: n.locality,
                region: n.region,
                iso_country: n.iso_country,
                number_type: kind,
                capabilities: CapabilitiesView {
                    voice: caps.as_ref().is_some_and(|c| c.voice),
                    sms: caps.as_ref().is_some_and(|c| c.sms),
                    mms: caps.as_ref().is_some_and(|c| c.mms),
                },
            })
        })
        .collect();
    Ok(Json(DataResponse::new(numbers)))
}

/// Buy a number from Twilio (voice URL set to GOBI's webhook), provision LiveKit when it is
/// configured, and store it. Posting a number this tenant left mid-purchase finishes it.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/phone-numbers",
    tag = "Phone numbers",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = PurchaseNumber,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Purchased and stored", body = PurchaseResponse),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "NUMBER_NOT_AVAILABLE (with twilioCode), NUMBER_ALREADY_CLAIMED, PHONE_NUMBER_EXISTS or TENANT_INACTIVE", body = ErrorBody),
        (status = 502, description = "TWILIO_UNAVAILABLE, TWILIO_AUTH_FAILED or LIVEKIT_PROVISIONING_FAILED (details say whether the purchase was released or kept for a retry)", body = ErrorBody),
        (status = 503, description = "TWILIO_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn purchase_number(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<PurchaseNumber>,
) -> ApiResult<(StatusCode, Json<PurchaseResponse>)> {
    let tenant = authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    let e164 = p.check("number", E164::parse_dialable(&body.number));
    let label = p.check("label", label(body.label.as_deref()));
    p.finish()?;
    let (e164, label) = (e164.expect("checked"), label.expect("checked"));
    check_agent(&state, id, body.agent_id).await?;
    if !tenant.is_active {
        return Err(ApiError::conflict(
            "TENANT_INACTIVE",
            format!("Tenant {id} is deactivated"),
        ));
    }
    let (Some(twilio), Some(base)) = (state.twilio.as_ref(), state.webhook_base.as_ref()) else {
        return Err(not_configured("Buying numbers"));
    };

    let now = time::now();
    let wanted = PhoneNumber {
        id: PhoneNumberId::new(),
        tenant_id: id,
        e164: e164.clone(),
        number_type: body.number_type.unwrap_or(NumberType::Local),
        label,
        provider: body.provider.unwrap_or_default(),
        status: NumberStatus::Purchasing,
        agent_id: body.agent_id,
        twilio_sid: None,
        twilio_status: None,
        twilio_date_created: None,
        sip: None,
        created_at: now,
        updated_at: now,
    };
    let (mut current, resumed) = match state.numbers.claim(&wanted).await? {
        Claim::Reserved(reserved) => (reserved, false),
        Claim::Ours(existing) if existing.number.status.is_pending() => {
            tracing::info!(tenant_id = %id, phone_number_id = %existing.number.id, "finishing an earlier purchase");
            (existing, true)
        }
        Claim::Ours(_) => {
            return Err(ApiError::conflict(
                "PHONE_NUMBER_EXISTS",
                format!("{e164} is already one of this tenant's numbers"),
            ));
        }
        Claim::Taken => return Err(number_taken(&e164).into()),
    };

    if current.number.status == NumberStatus::Purchasing {
        // A purchase that died half-way may have bought the number already; a fresh
        // reservation has no such past.
        let owned = if resumed {
            twilio
                .find_owned(&e164)
                .await
                .map_err(twilio::TwilioError::into_api_error)?
        } else {
            None
        };
        let bought = match owned {
            Some(owned) => owned,
            None => match twilio
                .purchase(
                    &e164,
                    &webhook(base, "/twilio/webhook/inbound")?,
                    &webhook(base, "/twilio/webhook/status")?,
                )
                .await
            {
                Ok(bought) => bought,
                Err(e) => {
                    state
                        .numbers
                        .remove(&current.number, current.version)
                        .await?;
                    return Err(e.into_api_error());
                }
            },
        };
        let mut next = current.number.clone();
        next.twilio_sid = Some(bought.sid);
        next.twilio_status = bought.status;
        next.twilio_date_created = parse_twilio_date(bought.date_created.as_deref());
        next.status = if state.sip.is_some() {
            NumberStatus::SipPending
        } else {
            NumberStatus::Active
        };
        next.updated_at = time::now();
        current = state.numbers.save(&next, current.version).await?;
    }

    if current.number.status == NumberStatus::SipPending {
        let sip = state
            .sip
            .as_ref()
            .expect("only pending while LiveKit is configured");
        let target = CallTarget {
            tenant_id: id,
            phone_number_id: current.number.id,
            e164: &e164,
            agent_id: current.number.agent_id,
        };
        match sip.provision(target).await {
            Ok(route) => {
                let mut next = current.number.clone();
                next.sip = Some(route);
                next.status = NumberStatus::Active;
                next.updated_at = time::now();
                current = state.numbers.save(&next, current.version).await?;
            }
            Err(provisioning) => {
                return Err(undo_purchase(&state, twilio, current, provisioning).await);
            }
        }
    }

    let number = current.number;
    tracing::info!(tenant_id = %id, phone_number_id = %number.id, "phone number purchased");
    let twilio_block = TwilioPurchase {
        sid: number.twilio_sid.clone().unwrap_or_default(),
        status: number.twilio_status.clone(),
        date_created: number.twilio_date_created,
    };
    Ok((
        StatusCode::CREATED,
        Json(PurchaseResponse {
            data: number.view(),
            message: "Phone number purchased and created successfully".into(),
            twilio: twilio_block,
        }),
    ))
}

/// LiveKit failed after the purchase: give the number back and forget it; if Twilio will not
/// take it back, keep it as `sip_pending` so posting it again finishes the job. The answer says which.
async fn undo_purchase(
    state: &PhoneNumbersState,
    twilio: &TwilioClient,
    current: Versioned,
    provisioning: ApiError,
) -> ApiError {
    let ApiError::Dependency {
        status,
        code,
        message,
        ..
    } = provisioning
    else {
        return provisioning;
    };
    let sid = current.number.twilio_sid.clone().unwrap_or_default();
    let details = match twilio.release(&sid).await {
        Ok(()) => match state.numbers.remove(&current.number, current.version).await {
            Ok(()) => {
                serde_json::json!({"purchase": "released", "message": "The number was given back to Twilio; nothing was stored"})
            }
            Err(e) => return e.into(),
        },
        Err(release) => {
            tracing::error!(error = %release, phone_number_id = %current.number.id, "could not release after LiveKit failed");
            serde_json::json!({
                "purchase": "kept",
                "phoneNumberId": current.number.id,
                "status": "sip_pending",
                "message": "The number is bought and stored as sip_pending; POST the same number again to finish provisioning"
            })
        }
    };
    ApiError::Dependency {
        status,
        code,
        message,
        details: Some(details),
        twilio_code: None,
    }
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

/// A tenant's numbers for routing (platform staff), cursor-paged.
#[utoipa::path(
    get,
    path = "/internal/phone-numbers",
    tag = "Phone numbers",
    params(InternalListQuery),
    security(("bearerAuth" = [])),
    responses((status = 200, description = "One page of the tenant's numbers", body = InternalPage))
)]
async fn internal_list(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiQuery(query): ApiQuery<InternalListQuery>,
) -> ApiResult<Json<InternalPage>> {
    principal.authorize(Access::write(
        query.tenant_id,
        tenant_not_found(query.tenant_id),
    ))?;
    let limit = count_up_to(500, query.limit, 200).map_err(|e| ApiError::validation("limit", e))?;
    let (numbers, next_cursor) = state
        .numbers
        .page(query.tenant_id, limit, query.cursor.as_deref())
        .await?;
    Ok(Json(InternalPage {
        data: numbers.iter().map(PhoneNumber::internal_view).collect(),
        next_cursor,
    }))
}

/// Register a number the Twilio account already owns, with its route, for a tenant.
#[utoipa::path(
    post,
    path = "/internal/phone-numbers",
    tag = "Phone numbers",
    request_body = RegisterNumber,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Registered", body = DataResponse<InternalPhoneNumber>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "NUMBER_ALREADY_CLAIMED", body = ErrorBody),
    )
)]
async fn internal_register(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiJson(body): ApiJson<RegisterNumber>,
) -> ApiResult<(StatusCode, Json<DataResponse<InternalPhoneNumber>>)> {
    principal.authorize(Access::write(
        body.tenant_id,
        tenant_not_found(body.tenant_id),
    ))?;
    let mut p = Problems::default();
    let e164 = p.check("e164", E164::parse_dialable(&body.e164));
    let sid = p.check("twilio_sid", twilio_sid(&body.twilio_sid));
    p.finish()?;
    check_agent(&state, body.tenant_id, body.agent_id).await?;
    let now = time::now();
    let number = PhoneNumber {
        id: PhoneNumberId::new(),
        tenant_id: body.tenant_id,
        e164: e164.expect("checked"),
        number_type: NumberType::Local,
        label: None,
        provider: Provider::Twilio,
        status: match body.status {
            Some(RegisterStatus::Inactive) => NumberStatus::Inactive,
            _ => NumberStatus::Active,
        },
        agent_id: body.agent_id,
        twilio_sid: sid,
        twilio_status: None,
        twilio_date_created: None,
        sip: None,
        created_at: now,
        updated_at: now,
    };
    let mut items = state.numbers.create_items(&number)?;
    items.push(state.tenants.exists_check(body.tenant_id)?);
    if let Err(e) = gobi_shared::dynamo::transact(
        state.tenants.client(),
        items,
        gobi_shared::dynamo::Backoff::default(),
    )
    .await
    {
        let reasons = gobi_shared::dynamo::cancellation_reasons(&e).unwrap_or_default();
        if gobi_shared::dynamo::item_condition_failed(&reasons, 2) {
            return Err(tenant_not_found(body.tenant_id).into());
        }
        if gobi_shared::dynamo::item_condition_failed(&reasons, 0) {
            return Err(number_taken(&number.e164).into());
        }
        return Err(ApiError::Internal(
            anyhow::Error::new(e).context("registering a phone number"),
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            number.internal_view(),
            "Phone number registered",
        )),
    ))
}

/// Point a number's calls at an agent, or at none.
#[utoipa::path(
    patch,
    path = "/internal/phone-numbers/{phoneNumberId}/agent",
    tag = "Phone numbers",
    params(("phoneNumberId" = PhoneNumberId, Path, description = "Phone number id")),
    request_body = AssignAgent,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Assigned", body = DataResponse<InternalPhoneNumber>),
        (status = 404, description = "PHONE_NUMBER_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PHONE_NUMBER_PROVISIONING or CONCURRENT_MODIFICATION", body = ErrorBody),
    )
)]
async fn internal_assign_agent(
    principal: Principal,
    State(state): State<PhoneNumbersState>,
    ApiPath(phone_id): ApiPath<PhoneNumberId>,
    ApiJson(body): ApiJson<AssignAgent>,
) -> ApiResult<Json<DataResponse<InternalPhoneNumber>>> {
    principal.authorize(Access::INTERNAL)?;
    let agent = body
        .agent_id
        .ok_or_else(|| ApiError::validation("agent_id", "is required (an agent id, or null)"))?;
    let current = state
        .numbers
        .find(phone_id)
        .await?
        .ok_or_else(|| number_not_found(phone_id))?;
    principal.authorize(Access::read(
        current.number.tenant_id,
        number_not_found(phone_id),
    ))?;
    let mut next = current.number.clone();
    next.agent_id = agent;
    let saved = change_number(&state, current, next).await?;
    Ok(Json(DataResponse::with_message(
        saved.internal_view(),
        "Agent assigned",
    )))
}
