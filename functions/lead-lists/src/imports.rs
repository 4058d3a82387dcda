//! Imports of lead files into a list. A file up to 5 MB is posted as the `text/csv` body; a larger
//! one (up to 100 MB) is put to the upload URL a JSON request returns, then started. Either way
//! the `lead-import` worker reads it from S3 and the import resource shows its state and counters
//! as it runs; rejected rows are in a CSV error report.

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use gobi_domain::leads::files::{self, ImportFiles};
use gobi_domain::leads::model::{ImportState, LeadImport};
use gobi_domain::leads::store::{OnDuplicate, import_not_found};
use gobi_shared::events::{Envelope, LEAD_IMPORT_QUEUED, Publisher};

use super::*;
use utoipa_axum::router::UtoipaMethodRouterExt;

/// The largest file posted as the request body.
pub const MAX_INLINE_BYTES: usize = 5 * 1024 * 1024;
/// The largest file put to an upload URL.
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

pub(crate) fn routes() -> OpenApiRouter<LeadListsState> {
    OpenApiRouter::default()
        .routes(routes!(create_import).layer(DefaultBodyLimit::max(MAX_INLINE_BYTES)))
        .routes(routes!(get_import))
        .routes(routes!(start_import))
        .routes(routes!(import_errors))
}

fn not_configured() -> ApiError {
    ApiError::Unavailable {
        code: "IMPORTS_NOT_CONFIGURED",
        message: "Imports need IMPORTS_BUCKET and LEAD_IMPORT_QUEUE_URL".into(),
    }
}

fn pipeline(state: &LeadListsState) -> ApiResult<(&ImportFiles, &Publisher)> {
    match (&state.files, &state.import_jobs) {
        (Some(files), Some(jobs)) => Ok((files, jobs)),
        _ => Err(not_configured()),
    }
}

async fn queue(state: &LeadListsState, jobs: &Publisher, import: &LeadImport) -> ApiResult<()> {
    let envelope = Envelope::new(
        LEAD_IMPORT_QUEUED,
        state.clock.now(),
        import.tenant_id,
        None,
        QueuedImport {
            list_id: import.list_id,
            import_id: import.id,
        },
    );
    jobs.send(&envelope)
        .await
        .map_err(|e| ApiError::Internal(e.context("queueing an import")))
}

/// Import a lead file: the `text/csv` body (up to 5 MB) is queued at once; a JSON body returns
/// an upload URL for a file up to 100 MB, started afterwards with `.../start`. Rows are read as
/// people export them (BOM, `,` `;` or tab, quotes, CRLF, numbers without `+`).
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/lead-lists/{listId}/imports",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id"), ImportQuery),
    request_body(content((String = "text/csv"), (CreateImport = "application/json")), description = "The file, or the upload to prepare"),
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Queued (`text/csv`), or awaiting its upload (JSON)", body = DataResponse<ImportCreated>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or LEAD_LIST_NOT_FOUND", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: over 5 MB; use an upload URL", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE: neither text/csv nor JSON", body = ErrorBody),
        (status = 503, description = "IMPORTS_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn create_import(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<DataResponse<ImportCreated>>)> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::validation("body", "could not be read")
        }
    })?;
    let list = authorized_list(&state, &principal, id, list_id, Role::Operator).await?;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let csv = matches!(
        media.as_str(),
        "text/csv" | "application/csv" | "text/plain"
    );
    let (dry_run, on_duplicate, size) = if csv {
        if body.is_empty() {
            return Err(ApiError::validation("body", "the file is empty"));
        }
        (query.dry_run, query.on_duplicate, Some(body.len() as u64))
    } else if media == "application/json" {
        let request: CreateImport = serde_json::from_slice(&body)
            .map_err(|e| ApiError::validation("body", e.to_string()))?;
        if request
            .size_bytes
            .is_some_and(|n| n == 0 || n > MAX_UPLOAD_BYTES)
        {
            return Err(ApiError::validation(
                "sizeBytes",
                "must be 1 to 104857600 bytes",
            ));
        }
        (
            request.dry_run.or(query.dry_run),
            request.on_duplicate.or(query.on_duplicate),
            request.size_bytes,
        )
    } else {
        return Err(ApiError::UnsupportedMediaType);
    };
    let (files, jobs) = pipeline(&state)?;
    let now = state.clock.now();
    let import_id = uuid::Uuid::now_v7();
    let key = files::upload_key(id, list.id, import_id);
    let import = LeadImport {
        id: import_id,
        tenant_id: id,
        list_id: list.id,
        state: if csv {
            ImportState::Queued
        } else {
            ImportState::AwaitingUpload
        },
        dry_run: dry_run.unwrap_or(false),
        on_duplicate: on_duplicate.unwrap_or(OnDuplicate::Skip),
        object_key: Some(key.clone()),
        size_bytes: size,
        failure: None,
        counters: Default::default(),
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    let upload_url = if csv {
        files.put(&key, body.to_vec()).await?;
        None
    } else {
        Some(files.upload_url(&key).await?)
    };
    state.leads.create_import(&import).await?;
    if csv {
        queue(&state, jobs, &import).await?;
    }
    tracing::info!(tenant_id = %id, list_id = %list.id, import_id = %import.id, "import created");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::new(ImportCreated {
            import: shown(import),
            upload_url,
            upload_expires_in_seconds: (!csv).then_some(files::UPLOAD_URL_SECONDS),
        })),
    ))
}

/// An import as the API shows it: where its file is in the bucket is GOBI's own business.
fn shown(mut import: LeadImport) -> LeadImport {
    import.object_key = None;
    import
}

async fn authorized_import(
    state: &LeadListsState,
    principal: &Principal,
    id: TenantId,
    list_id: uuid::Uuid,
    import_id: uuid::Uuid,
    role: Role,
) -> ApiResult<LeadImport> {
    let list = authorized_list(state, principal, id, list_id, role).await?;
    state
        .leads
        .import(list.id, import_id)
        .await?
        .ok_or_else(|| import_not_found(import_id).into())
}

/// An import: its state and, while it runs and after, its counters by outcome.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/lead-lists/{listId}/imports/{importId}",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id"), ("importId" = uuid::Uuid, Path, description = "Import id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The import", body = DataResponse<LeadImport>),
        (status = 404, description = "TENANT_NOT_FOUND, LEAD_LIST_NOT_FOUND or IMPORT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_import(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id, import_id)): ApiPath<(TenantId, uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<LeadImport>>> {
    let import =
        authorized_import(&state, &principal, id, list_id, import_id, Role::Viewer).await?;
    Ok(Json(DataResponse::new(shown(import))))
}

/// Start an import whose file was put to its upload URL.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/lead-lists/{listId}/imports/{importId}/start",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id"), ("importId" = uuid::Uuid, Path, description = "Import id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Queued (or already queued, running or finished: answered as it is)", body = DataResponse<LeadImport>),
        (status = 404, description = "TENANT_NOT_FOUND, LEAD_LIST_NOT_FOUND or IMPORT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "IMPORT_NOT_UPLOADED: nothing at the upload URL yet", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: the uploaded file is over 100 MB", body = ErrorBody),
        (status = 503, description = "IMPORTS_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn start_import(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id, import_id)): ApiPath<(TenantId, uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<(StatusCode, Json<DataResponse<LeadImport>>)> {
    let import =
        authorized_import(&state, &principal, id, list_id, import_id, Role::Operator).await?;
    let (files, jobs) = pipeline(&state)?;
    // Starting again is harmless: a started or finished import answers as it is.
    if import.state != ImportState::AwaitingUpload {
        return Ok((StatusCode::ACCEPTED, Json(DataResponse::new(shown(import)))));
    }
    let key = import.object_key.clone().unwrap_or_default();
    let size = files.size(&key).await?.ok_or_else(|| {
        ApiError::conflict(
            "IMPORT_NOT_UPLOADED",
            "Nothing was put to the upload URL yet",
        )
    })?;
    if size > MAX_UPLOAD_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let now = state.clock.now();
    if state
        .leads
        .move_import(
            list_id,
            import_id,
            &[ImportState::AwaitingUpload],
            ImportState::Queued,
            None,
            now,
        )
        .await?
    {
        queue(&state, jobs, &import).await?;
    }
    let import =
        authorized_import(&state, &principal, id, list_id, import_id, Role::Operator).await?;
    Ok((StatusCode::ACCEPTED, Json(DataResponse::new(shown(import)))))
}

/// The rows an import rejected, as CSV: line, reason and the row's own cells (cells a spreadsheet
/// would run as a formula are prefixed with `'`).
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/lead-lists/{listId}/imports/{importId}/errors",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id"), ("importId" = uuid::Uuid, Path, description = "Import id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The error report", content_type = "text/csv", body = String),
        (status = 404, description = "TENANT_NOT_FOUND, LEAD_LIST_NOT_FOUND or IMPORT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "IMPORT_NOT_FINISHED", body = ErrorBody),
        (status = 503, description = "IMPORTS_NOT_CONFIGURED", body = ErrorBody),
    )
)]
async fn import_errors(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id, import_id)): ApiPath<(TenantId, uuid::Uuid, uuid::Uuid)>,
) -> ApiResult<Response> {
    let import =
        authorized_import(&state, &principal, id, list_id, import_id, Role::Viewer).await?;
    if !matches!(
        import.state,
        ImportState::Completed | ImportState::CompletedWithErrors
    ) {
        return Err(ApiError::conflict(
            "IMPORT_NOT_FINISHED",
            "The report is written when the import completes",
        ));
    }
    let (files, _) = pipeline(&state)?;
    let report = files
        .read(&files::report_key(id, list_id, import_id))
        .await?
        .unwrap_or_else(|| b"line,reason\n".to_vec());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"import-{import_id}-errors.csv\""),
            ),
        ],
        report,
    )
        .into_response())
}
