//! Do-not-call files: numbers put on the tenant's do-not-call list through the same import
//! machinery as lead files (a `text/csv` body up to 5 MB, or an upload URL up to 100 MB; the
//! `lead-import` worker; counters live; an error report). A number already on the list keeps its
//! entry and is reported as `alreadyInList`.

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use gobi_domain::leads::model::{LeadImport, SuppressionReason};
use gobi_domain::leads::store::{ImportScope, import_not_found};

use super::*;
use crate::imports::{
    MAX_INLINE_BYTES, Received, Upload, begin, declared_size, received, report, shown, start,
};

pub(crate) fn routes() -> ApiRouter<LeadListsState> {
    ApiRouter::default()
        .routes(
            api_routes!(create_suppression_import).layer(DefaultBodyLimit::max(MAX_INLINE_BYTES)),
        )
        .routes(api_routes!(get_suppression_import))
        .routes(api_routes!(start_suppression_import))
        .routes(api_routes!(suppression_import_errors))
}

/// Import a do-not-call file: every valid number in its phone column is suppressed. The
/// `text/csv` body (up to 5 MB) is queued at once; a JSON body returns an upload URL for a file
/// up to 100 MB, started afterwards with `.../start`.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/suppressions/imports",
    tag = "Suppressions",
    params(("id" = TenantId, Path, description = "Tenant id"), SuppressionImportQuery),
    request_body(content((String = "text/csv"), (CreateSuppressionImport = "application/json")), description = "The file, or the upload to prepare"),
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Queued (`text/csv`), or awaiting its upload (JSON)", body = DataResponse<ImportCreated>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: over 5 MB; use an upload URL", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE: neither text/csv nor JSON", body = ErrorBody),
        (status = 503, description = "IMPORTS_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn create_suppression_import(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<SuppressionImportQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<DataResponse<ImportCreated>>)> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let request = received::<CreateSuppressionImport>(&headers, body)?;
    let (upload, dry_run, reason, raw_country) = match request {
        Received::Csv(body) => (
            Upload::Inline(body),
            query.dry_run,
            query.reason,
            query.default_country,
        ),
        Received::Json(request) => (
            Upload::Prepared(declared_size(request.size_bytes)?),
            request.dry_run.or(query.dry_run),
            request.reason.or(query.reason),
            request.default_country.or(query.default_country),
        ),
    };
    let default_country = raw_country
        .as_deref()
        .map(|raw| country(raw).map_err(|e| ApiError::validation("defaultCountry", e)))
        .transpose()?;
    let import = LeadImport {
        reason: Some(reason.unwrap_or(SuppressionReason::Manual)),
        default_country,
        ..LeadImport::new(id, None, dry_run.unwrap_or(false), state.clock.now())
    };
    let created = begin(&state, import, upload).await?;
    Ok((StatusCode::CREATED, Json(DataResponse::new(created))))
}

async fn authorized_import(
    state: &LeadListsState,
    principal: &Principal,
    id: TenantId,
    import_id: uuid::Uuid,
    role: Role,
) -> ApiResult<LeadImport> {
    authorized_tenant(&state.tenants, principal, id, role).await?;
    state
        .leads
        .import(ImportScope::Suppressions(id), import_id)
        .await?
        .ok_or_else(|| import_not_found(import_id).into())
}

/// A do-not-call import: its state and counters by outcome.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/suppressions/imports/{suppressionImportId}",
    tag = "Suppressions",
    params(("id" = TenantId, Path, description = "Tenant id"), ("suppressionImportId" = uuid::Uuid, Path, description = "Do-not-call import id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The import", body = DataResponse<LeadImport>),
        (status = 404, description = "TENANT_NOT_FOUND or IMPORT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_suppression_import(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, import_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<LeadImport>>> {
    let import = authorized_import(&state, &principal, id, import_id, Role::Viewer).await?;
    Ok(Json(DataResponse::new(shown(import))))
}

/// Start a do-not-call import whose file was put to its upload URL.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/suppressions/imports/{suppressionImportId}/start",
    tag = "Suppressions",
    params(("id" = TenantId, Path, description = "Tenant id"), ("suppressionImportId" = uuid::Uuid, Path, description = "Do-not-call import id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Queued (or already queued, running or finished: answered as it is)", body = DataResponse<LeadImport>),
        (status = 404, description = "TENANT_NOT_FOUND or IMPORT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "IMPORT_NOT_UPLOADED: nothing at the upload URL yet; IMPORT_SIZE_MISMATCH: not the size declared", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: the uploaded file is over 100 MB", body = ErrorBody),
        (status = 503, description = "IMPORTS_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn start_suppression_import(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, import_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<(StatusCode, Json<DataResponse<LeadImport>>)> {
    let import = authorized_import(&state, &principal, id, import_id, Role::Operator).await?;
    let import = start(&state, import).await?;
    Ok((StatusCode::ACCEPTED, Json(DataResponse::new(import))))
}

/// The rows a do-not-call import rejected, as CSV (formula cells neutralised).
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/suppressions/imports/{suppressionImportId}/errors",
    tag = "Suppressions",
    params(("id" = TenantId, Path, description = "Tenant id"), ("suppressionImportId" = uuid::Uuid, Path, description = "Do-not-call import id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The error report", content_type = "text/csv", body = String),
        (status = 303, description = "A report over 5 MB: `Location` is a download URL valid for 15 minutes"),
        (status = 404, description = "TENANT_NOT_FOUND or IMPORT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "IMPORT_NOT_FINISHED", body = ErrorBody),
        (status = 503, description = "IMPORTS_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn suppression_import_errors(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, import_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Response> {
    let import = authorized_import(&state, &principal, id, import_id, Role::Viewer).await?;
    report(&state, &import).await
}
