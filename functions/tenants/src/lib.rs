//! The `tenants` function: the first seed's tenant management under `/api/tenants`, for
//! platform staff. Admins and tenant managers write; only admins delete for good.

mod dispositions;

pub use gobi_domain::tenants::model;
pub use gobi_domain::tenants::store;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use gobi_shared::api_routes;
use gobi_shared::auth::{Access, JwtVerifier, Principal, Role};
use gobi_shared::error::{ApiError, ApiResult};
use gobi_shared::events::{Envelope, LEGAL_HOLD_JOB, LegalHoldJobDue, Publisher};
use gobi_shared::extract::{ApiJson, ApiPath, ApiQuery};
use gobi_shared::idempotency::{IdempotencyStore, honour_keys};
use gobi_shared::ids::TenantId;
use gobi_shared::response::{DataResponse, PageResponse};
use gobi_shared::routing::ApiRouter;
use gobi_shared::time;

use crate::model::{CreateTenant, DeleteTenantQuery, ListTenantsQuery, Tenant, UpdateTenant};
use crate::store::{TenantStore, tenant_not_found};

/// Each field is also state of its own (`FromRef`): the `Principal` extractor takes the verifier.
#[derive(Clone, FromRef)]
pub struct TenantsState {
    /// `Idempotency-Key` records of the create routes.
    pub idempotency: IdempotencyStore,
    pub store: TenantStore,
    /// Call data, whose expiry legal holds control.
    pub calls: gobi_domain::calls::CallStore,
    /// The legal-hold job queue (`LEGAL_HOLD_QUEUE_URL`); tenant holds need it.
    pub hold_jobs: Option<Publisher>,
    /// The tenant's dispositions (on the tenants table).
    pub dispositions: gobi_domain::dispositions::store::DispositionStore,
    pub verifier: Arc<JwtVerifier>,
}

impl TenantsState {
    pub fn new(
        config: &gobi_shared::Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        verifier: Arc<JwtVerifier>,
    ) -> Self {
        Self {
            idempotency: IdempotencyStore::new(dynamodb.clone(), &config.tables.idempotency),
            store: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            calls: gobi_domain::calls::CallStore::new(dynamodb.clone(), &config.tables.calls),
            dispositions: dispositions::store(config, dynamodb.clone()),
            hold_jobs: config
                .legal_hold_queue_url
                .as_ref()
                .map(|url| Publisher::new(sqs, url)),
            verifier,
        }
    }
}

fn routes() -> ApiRouter<TenantsState> {
    ApiRouter::default()
        .routes(api_routes!(list_tenants, create_tenant))
        .routes(api_routes!(get_tenant, update_tenant, delete_tenant))
        .routes(api_routes!(activate_tenant))
        .routes(api_routes!(place_tenant_hold, lift_tenant_hold))
        .routes(api_routes!(place_call_hold, lift_call_hold))
        .routes(api_routes!(delete_call))
        .merge(dispositions::routes())
}

/// The function's routes, ready to be layered and served.
pub fn router(state: TenantsState) -> axum::Router {
    let keys = state.idempotency.clone();
    honour_keys(routes().with_state(state), keys)
}

/// The function's part of the OpenAPI document.
#[cfg(feature = "openapi")]
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().openapi()
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
    principal.authorize(Access::Platform(Role::Viewer))?;
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
    principal.authorize(Access::read(id, tenant_not_found(id)))?;
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
    principal.authorize(Access::Platform(Role::Operator))?;
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
    principal.authorize(Access::Platform(Role::Operator))?;
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
        (status = 409, description = "LEGAL_HOLD_ACTIVE: a held tenant is not deleted for good", body = gobi_shared::error::ErrorBody),
    )
)]
async fn delete_tenant(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<DeleteTenantQuery>,
) -> ApiResult<Json<DataResponse<Tenant>>> {
    principal.authorize(Access::Platform(Role::Operator))?;
    if query.permanent == Some(true) {
        principal.authorize(Access::Platform(Role::Admin))?;
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
    principal.authorize(Access::Platform(Role::Operator))?;
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

fn hold(principal: &Principal, body: &HoldRequest) -> ApiResult<gobi_domain::calls::LegalHold> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(gobi_shared::error::ApiError::validation(
            "reason",
            "1 to 500 characters",
        ));
    }
    Ok(gobi_domain::calls::LegalHold {
        reason: Some(reason.to_owned()),
        placed_by: Some(principal.subject.clone()),
        placed_at: time::now(),
    })
}

/// Queues the first batch of the tenant's hold job (the legal-hold worker runs the rest).
async fn queue_hold_job(jobs: &Publisher, tenant: &Tenant) -> ApiResult<()> {
    let Some(job) = &tenant.hold_job else {
        return Ok(());
    };
    let due = Envelope::new(
        LEGAL_HOLD_JOB,
        time::now(),
        tenant.id,
        None,
        LegalHoldJobDue {
            job_id: job.id,
            calls_done: job.calls_done,
        },
    );
    jobs.send(&due).await.map_err(|e| {
        tracing::error!(error = format!("{e:#}"), tenant_id = %tenant.id, "legal-hold job not queued");
        ApiError::Unavailable {
            code: "LEGAL_HOLD_JOB_NOT_QUEUED",
            message: "The hold is recorded but its job could not be queued; send the request again"
                .into(),
        }
    })
}

fn hold_jobs(state: &TenantsState) -> ApiResult<&Publisher> {
    state
        .hold_jobs
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable {
            code: "LEGAL_HOLD_QUEUE_NOT_CONFIGURED",
            message: "Tenant legal holds need LEGAL_HOLD_QUEUE_URL".into(),
        })
}

/// Place a legal hold on a tenant: it cannot be deleted, nor can its calls, and its call data
/// stops expiring. Removing the expiry from every call item is a background job: `holdJob` on
/// the tenant shows its progress (a new hold change replaces a running job).
#[utoipa::path(
    post,
    path = "/internal/tenants/{tenantId}/legal-hold",
    tag = "Tenants",
    params(("tenantId" = TenantId, Path, description = "Tenant id")),
    request_body = HoldRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Held; the job that updates the calls is queued (see holdJob)", body = DataResponse<Tenant>),
        (status = 404, description = "TENANT_NOT_FOUND", body = gobi_shared::error::ErrorBody),
        (status = 503, description = "LEGAL_HOLD_JOB_NOT_QUEUED: send the request again", body = gobi_shared::error::ErrorBody),
    )
)]
async fn place_tenant_hold(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<HoldRequest>,
) -> ApiResult<(StatusCode, Json<DataResponse<Tenant>>)> {
    principal.authorize(Access::Platform(Role::Admin))?;
    let hold = hold(&principal, &body)?;
    let jobs = hold_jobs(&state)?;
    let tenant = state
        .store
        .set_legal_hold(id, Some(&hold), time::now())
        .await?;
    queue_hold_job(jobs, &tenant).await?;
    tracing::info!(tenant_id = %id, "legal hold placed on a tenant");
    Ok((
        StatusCode::ACCEPTED,
        Json(DataResponse::with_message(
            tenant,
            "Legal hold placed; its calls are being updated (see holdJob)",
        )),
    ))
}

/// Lift a tenant's legal hold: its call data expires again (calls held on their own stay held),
/// restored by a background job whose progress `holdJob` shows.
#[utoipa::path(
    delete,
    path = "/internal/tenants/{tenantId}/legal-hold",
    tag = "Tenants",
    params(("tenantId" = TenantId, Path, description = "Tenant id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Lifted; the job that updates the calls is queued (see holdJob)", body = DataResponse<Tenant>),
        (status = 404, description = "TENANT_NOT_FOUND", body = gobi_shared::error::ErrorBody),
        (status = 503, description = "LEGAL_HOLD_JOB_NOT_QUEUED: send the request again", body = gobi_shared::error::ErrorBody),
    )
)]
async fn lift_tenant_hold(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<(StatusCode, Json<DataResponse<Tenant>>)> {
    principal.authorize(Access::Platform(Role::Admin))?;
    let jobs = hold_jobs(&state)?;
    let tenant = state.store.set_legal_hold(id, None, time::now()).await?;
    queue_hold_job(jobs, &tenant).await?;
    tracing::info!(tenant_id = %id, "legal hold lifted from a tenant");
    Ok((
        StatusCode::ACCEPTED,
        Json(DataResponse::with_message(
            tenant,
            "Legal hold lifted; its calls are being updated (see holdJob)",
        )),
    ))
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
) -> ApiResult<gobi_domain::calls::Call> {
    state
        .calls
        .find(id)
        .await?
        .ok_or_else(|| gobi_domain::calls::call_not_found(id).into())
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
        (status = 200, description = "Held", body = DataResponse<gobi_domain::calls::Call>),
        (status = 404, description = "CALL_NOT_FOUND", body = gobi_shared::error::ErrorBody),
        (status = 409, description = "CALL_BEING_DELETED", body = gobi_shared::error::ErrorBody),
    )
)]
async fn place_call_hold(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<gobi_shared::ids::CallId>,
    ApiJson(body): ApiJson<HoldRequest>,
) -> ApiResult<Json<DataResponse<gobi_domain::calls::Call>>> {
    principal.authorize(Access::Platform(Role::Admin))?;
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
        (status = 200, description = "Lifted", body = DataResponse<gobi_domain::calls::Call>),
        (status = 404, description = "CALL_NOT_FOUND", body = gobi_shared::error::ErrorBody),
    )
)]
async fn lift_call_hold(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<gobi_shared::ids::CallId>,
) -> ApiResult<Json<DataResponse<gobi_domain::calls::Call>>> {
    principal.authorize(Access::Platform(Role::Admin))?;
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
        (status = 200, description = "Deleted", body = DataResponse<gobi_domain::calls::Call>),
        (status = 404, description = "CALL_NOT_FOUND", body = gobi_shared::error::ErrorBody),
        (status = 409, description = "LEGAL_HOLD_ACTIVE: the call or its tenant is held", body = gobi_shared::error::ErrorBody),
    )
)]
async fn delete_call(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<gobi_shared::ids::CallId>,
) -> ApiResult<Json<DataResponse<gobi_domain::calls::Call>>> {
    principal.authorize(Access::Platform(Role::Admin))?;
    let call = find_call(&state, id).await?;
    let not_held = state.store.not_held_check(call.tenant_id)?;
    let call = state
        .calls
        .delete_call(call.tenant_id, id, not_held, time::now())
        .await?;
    tracing::info!(tenant_id = %call.tenant_id, call_id = %id, "call deleted");
    Ok(Json(DataResponse::with_message(call, "Call deleted")))
}
