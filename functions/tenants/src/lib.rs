//! The `tenants` function: the first seed's tenant management under `/api/tenants`, for
//! platform staff. Admins and tenant managers write; only admins delete for good.

pub use gobi_domain::tenants::model;
pub use gobi_domain::tenants::store;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_shared::auth::{JwtVerifier, Principal, Role};
use gobi_shared::error::ApiResult;
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::ids::TenantId;
use gobi_shared::response::{DataResponse, PageResponse};
use gobi_shared::time;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::model::{CreateTenant, DeleteTenantQuery, ListTenantsQuery, Tenant, UpdateTenant};
use crate::store::{TenantStore, tenant_not_found};

#[derive(Clone)]
pub struct TenantsState {
    pub store: TenantStore,
    /// Call data, whose expiry legal holds control.
    pub calls: gobi_shared::calls::CallStore,
    pub verifier: Arc<JwtVerifier>,
}

impl FromRef<TenantsState> for Arc<JwtVerifier> {
    fn from_ref(state: &TenantsState) -> Self {
        state.verifier.clone()
    }
}

fn routes() -> OpenApiRouter<TenantsState> {
    OpenApiRouter::default()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
        .routes(routes!(activate_tenant))
        .routes(routes!(place_tenant_hold, lift_tenant_hold))
        .routes(routes!(place_call_hold, lift_call_hold))
        .routes(routes!(delete_call))
}

/// The function's routes, ready to be layered and served.
pub fn router(state: TenantsState) -> axum::Router {
    routes().with_state(state).split_for_parts().0
}

/// The function's part of the OpenAPI document.
pub fn openapi() -> OpenApi {
    routes().split_for_parts().1
}

/// Admins and tenant managers of the platform account manage tenants.
fn writer(principal: &Principal) -> ApiResult<()> {
    principal.require_platform_role(Role::Operator)
}

/// List tenants, filtered, sorted and paged.
#[utoipa::path(
    get,
    path = "/api/tenants",
    tag = "Tenants",
    params(ListTenantsQuery),
    security(("bearerAuth" = [])),
    responses((status = 200, description = "One page of tenants", body = PageResponse<Tenant>))
)]
async fn list_tenants(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiQuery(query): ApiQuery<ListTenantsQuery>,
) -> ApiResult<Json<PageResponse<Tenant>>> {
    principal.require_platform()?;
    let filter = query.validate()?;
    let tenants = filter.apply(state.store.list().await?);
    Ok(Json(PageResponse::paginate(
        tenants,
        filter.page,
        filter.limit,
    )))
}

/// Get one tenant: the platform account reads any, a tenant-bound token its own.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}",
    tag = "Tenants",
    params(("id" = TenantId, Path, description = "Tenant id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The tenant", body = DataResponse<Tenant>),
        (status = 404, description = "TENANT_NOT_FOUND", body = gobi_shared::error::ErrorBody),
    )
)]
async fn get_tenant(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<DataResponse<Tenant>>> {
    principal.require_tenant(id, || tenant_not_found(id))?;
    let mut tenant = state
        .store
        .get(id)
        .await?
        .ok_or_else(|| tenant_not_found(id))?;
    tenant.legal_hold = tenant.legal_hold.map(|h| h.shown_to(&principal));
    Ok(Json(DataResponse::new(tenant)))
}

/// Create a tenant (admin, tenant-manager). The domain must be unused.
#[utoipa::path(
    post,
    path = "/api/tenants",
    tag = "Tenants",
    request_body = CreateTenant,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created", body = DataResponse<Tenant>),
        (status = 409, description = "DOMAIN_EXISTS", body = gobi_shared::error::ErrorBody),
    )
)]
async fn create_tenant(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiJson(body): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<DataResponse<Tenant>>)> {
    writer(&principal)?;
    let new = body.validate()?;
    let tenant = state
        .store
        .create(new.into_tenant(TenantId::new(), time::now()))
        .await?;
    tracing::info!(tenant_id = %tenant.id, "tenant created");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            tenant,
            "Tenant created successfully",
        )),
    ))
}

/// Update a tenant (admin, tenant-manager): only the fields sent change.
#[utoipa::path(
    put,
    path = "/api/tenants/{id}",
    tag = "Tenants",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = UpdateTenant,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Updated", body = DataResponse<Tenant>),
        (status = 404, description = "TENANT_NOT_FOUND", body = gobi_shared::error::ErrorBody),
        (status = 409, description = "DOMAIN_EXISTS", body = gobi_shared::error::ErrorBody),
    )
)]
async fn update_tenant(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<UpdateTenant>,
) -> ApiResult<Json<DataResponse<Tenant>>> {
    writer(&principal)?;
    let changes = body.validate()?;
    let tenant = state.store.update(id, &changes, time::now()).await?;
    Ok(Json(DataResponse::with_message(
        tenant,
        "Tenant updated successfully",
    )))
}

/// Deactivate a tenant (admin, tenant-manager), or with `permanent=true` delete it (admin only).
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}",
    tag = "Tenants",
    params(("id" = TenantId, Path, description = "Tenant id"), DeleteTenantQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deactivated, or deleted for good", body = DataResponse<Tenant>),
        (status = 404, description = "TENANT_NOT_FOUND", body = gobi_shared::error::ErrorBody),
    )
)]
async fn delete_tenant(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<DeleteTenantQuery>,
) -> ApiResult<Json<DataResponse<Tenant>>> {
    writer(&principal)?;
    if query.permanent == Some(true) {
        principal.require_role(Role::Admin)?;
        let tenant = state.store.delete(id).await?;
        tracing::info!(tenant_id = %id, "tenant deleted permanently");
        return Ok(Json(DataResponse::with_message(
            tenant,
            "Tenant permanently deleted",
        )));
    }
    let tenant = state.store.set_active(id, false, time::now()).await?;
    Ok(Json(DataResponse::with_message(
        tenant,
        "Tenant deactivated successfully",
    )))
}

/// Reactivate a deactivated tenant (admin, tenant-manager).
#[utoipa::path(
    patch,
    path = "/api/tenants/{id}/activate",
    tag = "Tenants",
    params(("id" = TenantId, Path, description = "Tenant id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Active again", body = DataResponse<Tenant>),
        (status = 404, description = "TENANT_NOT_FOUND", body = gobi_shared::error::ErrorBody),
    )
)]
async fn activate_tenant(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<DataResponse<Tenant>>> {
    writer(&principal)?;
    let tenant = state.store.set_active(id, true, time::now()).await?;
    Ok(Json(DataResponse::with_message(
        tenant,
        "Tenant activated successfully",
    )))
}

/// `POST .../legal-hold`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// Why (a case or matter reference).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

fn hold(principal: &Principal, body: &HoldRequest) -> ApiResult<gobi_shared::calls::LegalHold> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(gobi_shared::error::ApiError::validation(
            "reason",
            "1 to 500 characters",
        ));
    }
    Ok(gobi_shared::calls::LegalHold {
        reason: Some(reason.to_owned()),
        placed_by: Some(principal.subject.clone()),
        placed_at: time::now(),
    })
}

/// Legal holds and call deletion are for admins of the platform account.
fn legal_admin(principal: &Principal) -> ApiResult<()> {
    principal.require_platform_role(Role::Admin)
}

/// Brings every call of the tenant in line with the tenant's hold.
async fn apply_tenant_hold(state: &TenantsState, id: TenantId, held: bool) -> ApiResult<()> {
    for call in state.calls.all_calls(id).await? {
        state.calls.apply_expiry(id, &call, held).await?;
    }
    Ok(())
}

/// Place a legal hold on a tenant: its call data stops expiring, and neither it nor the tenant
/// can be deleted until the hold is lifted.
#[utoipa::path(
    post,
    path = "/internal/tenants/{tenantId}/legal-hold",
    tag = "Tenants",
    params(("tenantId" = TenantId, Path, description = "Tenant id")),
    request_body = HoldRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Held", body = DataResponse<Tenant>),
        (status = 404, description = "TENANT_NOT_FOUND", body = gobi_shared::error::ErrorBody),
    )
)]
async fn place_tenant_hold(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<HoldRequest>,
) -> ApiResult<Json<DataResponse<Tenant>>> {
    legal_admin(&principal)?;
    let hold = hold(&principal, &body)?;
    let tenant = state
        .store
        .set_legal_hold(id, Some(&hold), time::now())
        .await?;
    apply_tenant_hold(&state, id, true).await?;
    tracing::info!(tenant_id = %id, "legal hold placed on a tenant");
    Ok(Json(DataResponse::with_message(
        tenant,
        "Legal hold placed",
    )))
}

/// Lift a tenant's legal hold: its call data expires again (calls held on their own stay held).
#[utoipa::path(
    delete,
    path = "/internal/tenants/{tenantId}/legal-hold",
    tag = "Tenants",
    params(("tenantId" = TenantId, Path, description = "Tenant id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Lifted", body = DataResponse<Tenant>),
        (status = 404, description = "TENANT_NOT_FOUND", body = gobi_shared::error::ErrorBody),
    )
)]
async fn lift_tenant_hold(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<DataResponse<Tenant>>> {
    legal_admin(&principal)?;
    let tenant = state.store.set_legal_hold(id, None, time::now()).await?;
    apply_tenant_hold(&state, id, false).await?;
    tracing::info!(tenant_id = %id, "legal hold lifted from a tenant");
    Ok(Json(DataResponse::with_message(
        tenant,
        "Legal hold lifted",
    )))
}

async fn tenant_held(state: &TenantsState, id: TenantId) -> ApiResult<bool> {
    Ok(state
        .store
        .get(id)
        .await?
        .is_some_and(|t| t.legal_hold.is_some()))
}

async fn find_call(
    state: &TenantsState,
    id: gobi_shared::ids::CallId,
) -> ApiResult<gobi_shared::calls::Call> {
    state
        .calls
        .find(id)
        .await?
        .ok_or_else(|| gobi_shared::calls::call_not_found(id))
}

/// Place a legal hold on one call.
#[utoipa::path(
    post,
    path = "/internal/calls/{callId}/legal-hold",
    tag = "Tenants",
    params(("callId" = gobi_shared::ids::CallId, Path, description = "Call id")),
    request_body = HoldRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Held", body = DataResponse<gobi_shared::calls::Call>),
        (status = 404, description = "CALL_NOT_FOUND", body = gobi_shared::error::ErrorBody),
        (status = 409, description = "CALL_BEING_DELETED", body = gobi_shared::error::ErrorBody),
    )
)]
async fn place_call_hold(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<gobi_shared::ids::CallId>,
    ApiJson(body): ApiJson<HoldRequest>,
) -> ApiResult<Json<DataResponse<gobi_shared::calls::Call>>> {
    legal_admin(&principal)?;
    let hold = hold(&principal, &body)?;
    let call = find_call(&state, id).await?;
    let held = tenant_held(&state, call.tenant_id).await?;
    let call = state
        .calls
        .set_call_hold(call.tenant_id, id, Some(&hold), held)
        .await?;
    Ok(Json(DataResponse::with_message(call, "Legal hold placed")))
}

/// Lift a call's own legal hold (a tenant hold still applies).
#[utoipa::path(
    delete,
    path = "/internal/calls/{callId}/legal-hold",
    tag = "Tenants",
    params(("callId" = gobi_shared::ids::CallId, Path, description = "Call id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Lifted", body = DataResponse<gobi_shared::calls::Call>),
        (status = 404, description = "CALL_NOT_FOUND", body = gobi_shared::error::ErrorBody),
    )
)]
async fn lift_call_hold(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<gobi_shared::ids::CallId>,
) -> ApiResult<Json<DataResponse<gobi_shared::calls::Call>>> {
    legal_admin(&principal)?;
    let call = find_call(&state, id).await?;
    let held = tenant_held(&state, call.tenant_id).await?;
    let call = state
        .calls
        .set_call_hold(call.tenant_id, id, None, held)
        .await?;
    Ok(Json(DataResponse::with_message(call, "Legal hold lifted")))
}

/// Delete a call and all its data (platform admins); refused while a hold applies. The call is
/// marked as being deleted (checking both holds in one transaction) before anything is removed,
/// and a hold cannot be placed on it afterwards (409 `CALL_BEING_DELETED`).
#[utoipa::path(
    delete,
    path = "/internal/calls/{callId}",
    tag = "Tenants",
    params(("callId" = gobi_shared::ids::CallId, Path, description = "Call id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deleted", body = DataResponse<gobi_shared::calls::Call>),
        (status = 404, description = "CALL_NOT_FOUND", body = gobi_shared::error::ErrorBody),
        (status = 409, description = "LEGAL_HOLD_ACTIVE: the call or its tenant is held", body = gobi_shared::error::ErrorBody),
    )
)]
async fn delete_call(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<gobi_shared::ids::CallId>,
) -> ApiResult<Json<DataResponse<gobi_shared::calls::Call>>> {
    legal_admin(&principal)?;
    let call = find_call(&state, id).await?;
    let not_held = state.store.not_held_check(call.tenant_id)?;
    let call = state
        .calls
        .delete_call(call.tenant_id, id, not_held, time::now())
        .await?;
    tracing::info!(tenant_id = %call.tenant_id, call_id = %id, "call deleted");
    Ok(Json(DataResponse::with_message(call, "Call deleted")))
}
