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
use gobi_domain::leads::jobs;
use gobi_domain::leads::model::{ImportState, LeadImport, LeadJob};
use gobi_domain::leads::store::{ImportScope, OnDuplicate, import_not_found};
use gobi_shared::events::Publisher;
use serde::de::DeserializeOwned;

use super::*;

/// The largest file posted as the request body.
pub const MAX_INLINE_BYTES: usize = 5 * 1024 * 1024;
/// The largest file put to an upload URL.
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// The largest error report answered in the response (larger: a download URL).
pub const MAX_INLINE_REPORT_BYTES: u64 = 5 * 1024 * 1024;

pub(crate) fn routes() -> ApiRouter<LeadListsState> {
    ApiRouter::default()
        .routes(api_routes!(create_import).layer(DefaultBodyLimit::max(MAX_INLINE_BYTES)))
        .routes(api_routes!(get_import))
        .routes(api_routes!(start_import))
        .routes(api_routes!(import_errors))
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

/// What an import request carried: the file itself, or a JSON request to prepare an upload.
pub(crate) enum Received<T> {
    Csv(Bytes),
    Json(T),
}

/// The request's file (`text/csv`, up to 5 MB) or JSON request `T`, by its media type.
pub(crate) fn received<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Received<T>> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::validation("body", "could not be read")
        }
    })?;
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
    match media.as_str() {
        "text/csv" | "application/csv" | "text/plain" if body.is_empty() => {
            Err(ApiError::validation("body", "the file is empty"))
        }
        "text/csv" | "application/csv" | "text/plain" => Ok(Received::Csv(body)),
        "application/json" => serde_json::from_slice(&body)
            .map(Received::Json)
            .map_err(|e| ApiError::validation("body", e.to_string())),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// The size an upload request declares, checked against the largest upload.
pub(crate) fn declared_size(size: u64) -> ApiResult<u64> {
    if size == 0 || size > MAX_UPLOAD_BYTES {
        return Err(ApiError::validation(
            "sizeBytes",
            "must be 1 to 104857600 bytes",
        ));
    }
    Ok(size)
}

/// What an import starts from.
pub(crate) enum Upload {
    /// The file, stored and queued at once.
    Inline(Bytes),
    /// A file of this many bytes, put to an upload URL and started afterwards.
    Prepared(u64),
}

/// Creates `import` (its file stored and queued, or an upload URL prepared).
pub(crate) async fn begin(
    state: &LeadListsState,
    mut import: LeadImport,
    upload: Upload,
) -> ApiResult<ImportCreated> {
    let (files, jobs) = pipeline(state)?;
    let key = files::upload_key(import.tenant_id, import.list_id, import.id);
    import.object_key = Some(key.clone());
    let upload_url = match upload {
        Upload::Inline(body) => {
            import.state = ImportState::Queued;
            import.size_bytes = Some(body.len() as u64);
            files.put(&key, body.to_vec()).await?;
            None
        }
        Upload::Prepared(size) => {
            import.state = ImportState::AwaitingUpload;
            import.size_bytes = Some(size);
            Some(files.upload_url(&key, size).await?)
        }
    };
    state.leads.create_import(&import).await?;
    if upload_url.is_none() {
        queue(state, jobs, &import).await?;
    }
    tracing::info!(tenant_id = %import.tenant_id, import_id = %import.id, "import created");
    Ok(ImportCreated {
        upload_expires_in_seconds: upload_url.is_some().then_some(files::UPLOAD_URL_SECONDS),
        upload_url,
        import: shown(import),
    })
}

async fn queue(state: &LeadListsState, jobs: &Publisher, import: &LeadImport) -> ApiResult<()> {
    jobs::queue(
        jobs,
        import.tenant_id,
        LeadJob::import(import),
        state.clock.now(),
    )
    .await
    .map_err(ApiError::Internal)
}

/// Starts an import whose file was put to its upload URL (again: answered as it is).
pub(crate) async fn start(state: &LeadListsState, import: LeadImport) -> ApiResult<LeadImport> {
    let (files, jobs) = pipeline(state)?;
    if import.state != ImportState::AwaitingUpload {
        return Ok(shown(import));
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
    if import.size_bytes.is_some_and(|declared| declared != size) {
        return Err(ApiError::conflict(
            "IMPORT_SIZE_MISMATCH",
            format!(
                "The upload has {size} bytes, not the {} declared; prepare a new import",
                import.size_bytes.unwrap_or_default()
            ),
        ));
    }
    let scope = import.scope();
    if state
        .leads
        .move_import(
            scope,
            import.id,
            &[ImportState::AwaitingUpload],
            ImportState::Queued,
            None,
            state.clock.now(),
        )
        .await?
    {
        queue(state, jobs, &import).await?;
    }
    let now = state
        .leads
        .import(scope, import.id)
        .await?
        .ok_or_else(|| import_not_found(import.id))?;
    Ok(shown(now))
}

/// The error report of a completed import: inline up to 5 MB, else a redirect to a download
/// URL (a Lambda answers at most 6 MB).
pub(crate) async fn report(state: &LeadListsState, import: &LeadImport) -> ApiResult<Response> {
    if !matches!(
        import.state,
        ImportState::Completed | ImportState::CompletedWithErrors
    ) {
        return Err(ApiError::conflict(
            "IMPORT_NOT_FINISHED",
            "The report is written when the import completes",
        ));
    }
    let (files, _) = pipeline(state)?;
    let key = files::report_key(import.tenant_id, import.list_id, import.id);
    let filename = format!("import-{}-errors.csv", import.id);
    let report = match files.size(&key).await? {
        Some(size) if size > MAX_INLINE_REPORT_BYTES => {
            let url = files.download_url(&key, &filename).await?;
            return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response());
        }
        Some(_) => files.read(&key).await?,
        None => None,
    }
    .unwrap_or_else(|| b"line,reason\n".to_vec());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        report,
    )
        .into_response())
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
    let list = authorized_list(&state, &principal, id, list_id, Role::Operator).await?;
    let request = received::<CreateImport>(&headers, body)?;
    let (upload, dry_run, on_duplicate) = match request {
        Received::Csv(body) => (Upload::Inline(body), query.dry_run, query.on_duplicate),
        Received::Json(request) => (
            Upload::Prepared(declared_size(request.size_bytes)?),
            request.dry_run.or(query.dry_run),
            request.on_duplicate.or(query.on_duplicate),
        ),
    };
    let import = LeadImport {
        on_duplicate: on_duplicate.unwrap_or(OnDuplicate::Skip),
        ..LeadImport::new(
            id,
            Some(list.id),
            dry_run.unwrap_or(false),
            state.clock.now(),
        )
    };
    let created = begin(&state, import, upload).await?;
    Ok((StatusCode::CREATED, Json(DataResponse::new(created))))
}

/// An import as the API shows it: where its file is in the bucket is GOBI's own business.
pub(crate) fn shown(mut import: LeadImport) -> LeadImport {
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
        .import(ImportScope::List(list.id), import_id)
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
        (status = 409, description = "IMPORT_NOT_UPLOADED: nothing at the upload URL yet; IMPORT_SIZE_MISMATCH: not the size declared", body = ErrorBody),
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
    let import = start(&state, import).await?;
    Ok((StatusCode::ACCEPTED, Json(DataResponse::new(import))))
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
        (status = 303, description = "A report over 5 MB: `Location` is a download URL valid for 15 minutes"),
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
    report(&state, &import).await
}
