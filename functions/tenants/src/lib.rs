//! The `tenants` function: the first seed's tenant management under `/api/tenants`, for
//! platform staff. Admins and tenant managers write; only admins delete for good.

pub mod model;
pub mod store;

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
}

/// The function's routes, ready to be layered and served.
pub fn router(state: TenantsState) -> axum::Router {
    routes().with_state(state).split_for_parts().0
}

/// The function's part of the OpenAPI document.
pub fn openapi() -> OpenApi {
    routes().split_for_parts().1
}

/// Any platform principal reads.
fn reader(principal: &Principal) -> ApiResult<()> {
    principal.require_platform()
}

/// Admins and tenant managers of the platform write.
fn writer(principal: &Principal) -> ApiResult<()> {
    principal.require_platform()?;
    principal.require_role(Role::Operator)
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
    reader(&principal)?;
    let filter = query.validate()?;
    let tenants = filter.apply(state.store.list().await?);
    Ok(Json(PageResponse::paginate(
        tenants,
        filter.page,
        filter.limit,
    )))
}

/// Get one tenant.
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
    reader(&principal)?;
    let tenant = state
        .store
        .get(id)
        .await?
        .ok_or_else(|| tenant_not_found(id))?;
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
