//! A tenant's dispositions (`/api/tenants/{id}/dispositions`): operators define them, anyone of
//! the tenant reads them; the runtime reports one per call.

use gobi_domain::dispositions::model::{Disposition, MAX_DISPOSITIONS, valid_code};
use gobi_domain::dispositions::store::{DispositionStore, disposition_not_found};
use gobi_domain::tenants::access::authorized_tenant;
use gobi_shared::error::{ErrorBody, Problems};
use serde::Deserialize;
use utoipa::ToSchema;

use super::*;

pub(crate) fn routes() -> ApiRouter<TenantsState> {
    ApiRouter::default()
        .routes(api_routes!(list_dispositions, create_disposition))
        .routes(api_routes!(
            get_disposition,
            update_disposition,
            delete_disposition
        ))
}

/// `POST /api/tenants/{id}/dispositions` and `PUT .../{code}`: a create needs `code` and
/// `label`; an update changes only the fields sent (never the code).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DispositionFields {
    /// Lower-case letters, digits and `_`, 1 to 64.
    #[schema(
        example = "appointment_set",
        max_length = 64,
        pattern = "^[a-z0-9_]{1,64}$"
    )]
    pub code: Option<String>,
    #[schema(
        example = "Appointment set",
        min_length = 1,
        max_length = 100,
        pattern = r"\S"
    )]
    pub label: Option<String>,
    /// Default false.
    pub success: Option<bool>,
    /// Default false.
    pub terminal: Option<bool>,
    /// Default false.
    pub suppress: Option<bool>,
}

impl DispositionFields {
    fn apply(self, mut disposition: Disposition, p: &mut Problems) -> Disposition {
        if let Some(label) = self.label {
            match gobi_shared::text::required(&label, 100) {
                Ok(label) => disposition.label = label,
                Err(message) => p.push("label", message),
            }
        }
        disposition.success = self.success.unwrap_or(disposition.success);
        disposition.terminal = self.terminal.unwrap_or(disposition.terminal);
        disposition.suppress = self.suppress.unwrap_or(disposition.suppress);
        disposition
    }
}

/// The tenant's dispositions, by code.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/dispositions",
    tag = "Dispositions",
    params(("id" = TenantId, Path, description = "Tenant id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Every disposition of the tenant (at most 200)", body = DataResponse<Vec<Disposition>>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_dispositions(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<DataResponse<Vec<Disposition>>>> {
    authorized_tenant(&state.store, &principal, id, Role::Viewer).await?;
    Ok(Json(DataResponse::new(state.dispositions.list(id).await?)))
}

/// Define a disposition.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/dispositions",
    tag = "Dispositions",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = DispositionFields,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Defined", body = DataResponse<Disposition>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "DISPOSITION_EXISTS, or DISPOSITION_LIMIT: the tenant has 200", body = ErrorBody),
    )
)]
async fn create_disposition(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<DispositionFields>,
) -> ApiResult<(StatusCode, Json<DataResponse<Disposition>>)> {
    authorized_tenant(&state.store, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    let code = body.code.clone().unwrap_or_default();
    if !valid_code(&code) {
        p.push(
            "code",
            "is required: lower-case letters, digits and _, 1 to 64 characters",
        );
    }
    if body.label.is_none() {
        p.push("label", "is required");
    }
    let now = time::now();
    let blank = Disposition {
        tenant_id: id,
        code,
        label: String::new(),
        success: false,
        terminal: false,
        suppress: false,
        created_at: now,
        updated_at: now,
    };
    let disposition = body.apply(blank, &mut p);
    p.finish()?;
    if state.dispositions.list(id).await?.len() >= MAX_DISPOSITIONS {
        return Err(ApiError::conflict(
            "DISPOSITION_LIMIT",
            format!("A tenant has at most {MAX_DISPOSITIONS} dispositions"),
        ));
    }
    state.dispositions.create(&disposition).await?;
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            disposition,
            "Disposition created",
        )),
    ))
}

async fn authorized_disposition(
    state: &TenantsState,
    principal: &Principal,
    id: TenantId,
    code: &str,
    role: Role,
) -> ApiResult<Disposition> {
    authorized_tenant(&state.store, principal, id, role).await?;
    Ok(state
        .dispositions
        .get(id, code)
        .await?
        .ok_or_else(|| disposition_not_found(code))?)
}

/// One disposition.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/dispositions/{code}",
    tag = "Dispositions",
    params(("id" = TenantId, Path, description = "Tenant id"), ("code" = String, Path, description = "Disposition code")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The disposition", body = DataResponse<Disposition>),
        (status = 404, description = "TENANT_NOT_FOUND or DISPOSITION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_disposition(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath((id, code)): ApiPath<(TenantId, String)>,
) -> ApiResult<Json<DataResponse<Disposition>>> {
    let disposition = authorized_disposition(&state, &principal, id, &code, Role::Viewer).await?;
    Ok(Json(DataResponse::new(disposition)))
}

/// Change a disposition's label or flags (calls that carry it keep their copy).
#[utoipa::path(
    put,
    path = "/api/tenants/{id}/dispositions/{code}",
    tag = "Dispositions",
    params(("id" = TenantId, Path, description = "Tenant id"), ("code" = String, Path, description = "Disposition code")),
    request_body = DispositionFields,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Changed", body = DataResponse<Disposition>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or DISPOSITION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn update_disposition(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath((id, code)): ApiPath<(TenantId, String)>,
    ApiJson(body): ApiJson<DispositionFields>,
) -> ApiResult<Json<DataResponse<Disposition>>> {
    let current = authorized_disposition(&state, &principal, id, &code, Role::Operator).await?;
    let mut p = Problems::default();
    if body.code.as_ref().is_some_and(|c| *c != code) {
        p.push("code", "cannot change (define another disposition)");
    }
    let mut changed = body.apply(current, &mut p);
    p.finish()?;
    changed.updated_at = time::now();
    state.dispositions.save(&changed).await?;
    Ok(Json(DataResponse::with_message(
        changed,
        "Disposition updated",
    )))
}

/// Remove a disposition (calls that carry it keep their copy).
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}/dispositions/{code}",
    tag = "Dispositions",
    params(("id" = TenantId, Path, description = "Tenant id"), ("code" = String, Path, description = "Disposition code")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Removed", body = DataResponse<Disposition>),
        (status = 404, description = "TENANT_NOT_FOUND or DISPOSITION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn delete_disposition(
    principal: Principal,
    State(state): State<TenantsState>,
    ApiPath((id, code)): ApiPath<(TenantId, String)>,
) -> ApiResult<Json<DataResponse<Disposition>>> {
    let current = authorized_disposition(&state, &principal, id, &code, Role::Operator).await?;
    state.dispositions.delete(id, &code).await?;
    Ok(Json(DataResponse::with_message(
        current,
        "Disposition deleted",
    )))
}

/// The store the state carries.
pub(crate) fn store(
    config: &gobi_shared::Config,
    dynamodb: aws_sdk_dynamodb::Client,
) -> DispositionStore {
    DispositionStore::new(dynamodb, &config.tables.tenants)
}
