//! Lead lists: create, list, read (with live counts) and change.

use gobi_domain::leads::jobs;
use gobi_domain::leads::model::{LeadJob, ListCounts};

use super::*;

pub(crate) fn routes() -> ApiRouter<LeadListsState> {
    ApiRouter::default()
        .routes(api_routes!(list_lists, create_list))
        .routes(api_routes!(get_list, update_list, delete_list))
}

/// Create a lead list (operators and admins of the tenant).
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/lead-lists",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = CreateLeadList,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created", body = DataResponse<LeadList>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn create_list(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<CreateLeadList>,
) -> ApiResult<(StatusCode, Json<DataResponse<LeadList>>)> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    let name = p.check("name", gobi_shared::text::required(&body.name, 200));
    let description = p
        .check(
            "description",
            gobi_shared::text::optional(body.description.as_deref(), 1000),
        )
        .flatten();
    let default_country = body
        .default_country
        .as_deref()
        .and_then(|raw| p.check("defaultCountry", country(raw)));
    let timezone_column = header(&mut p, "timezoneColumn", body.timezone_column.as_deref());
    let phone_column = header(&mut p, "phoneColumn", body.phone_column.as_deref());
    p.finish()?;
    let now = state.clock.now();
    let list = LeadList {
        id: uuid::Uuid::now_v7(),
        tenant_id: id,
        name: name.unwrap_or_default(),
        description,
        default_country,
        timezone_column,
        phone_column,
        counts: ListCounts::default(),
        created_at: now,
        updated_at: now,
    };
    state.leads.create_list(&list).await?;
    tracing::info!(tenant_id = %id, list_id = %list.id, "lead list created");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(
            list,
            "Lead list created successfully",
        )),
    ))
}

/// A tenant's lead lists, by name.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/lead-lists",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The lists", body = DataResponse<Vec<LeadList>>),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_lists(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<DataResponse<Vec<LeadList>>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    let mut lists = state.leads.lists(id).await?;
    lists.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    Ok(Json(DataResponse::new(lists)))
}

/// One lead list with its counts (total, valid, suppressed).
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/lead-lists/{listId}",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The list", body = DataResponse<LeadList>),
        (status = 404, description = "TENANT_NOT_FOUND or LEAD_LIST_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_list(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<Json<DataResponse<LeadList>>> {
    let list = authorized_list(&state, &principal, id, list_id, Role::Viewer).await?;
    Ok(Json(DataResponse::new(list)))
}

/// Change a list's name, description, default country or column names.
#[utoipa::path(
    put,
    path = "/api/tenants/{id}/lead-lists/{listId}",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id")),
    request_body = UpdateLeadList,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Changed", body = DataResponse<LeadList>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or LEAD_LIST_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CONCURRENT_MODIFICATION", body = ErrorBody),
    )
)]
async fn update_list(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiJson(body): ApiJson<UpdateLeadList>,
) -> ApiResult<Json<DataResponse<LeadList>>> {
    let current = authorized_list(&state, &principal, id, list_id, Role::Operator).await?;
    let mut p = Problems::default();
    let mut next = current.clone();
    if let Some(raw) = body.name.as_deref() {
        if let Some(name) = p.check("name", gobi_shared::text::required(raw, 200)) {
            next.name = name;
        }
    }
    if body.description.is_some() {
        next.description = p
            .check(
                "description",
                gobi_shared::text::optional(body.description.as_deref(), 1000),
            )
            .flatten();
    }
    if let Some(raw) = body.default_country.as_deref() {
        next.default_country = p.check("defaultCountry", country(raw));
    }
    if body.timezone_column.is_some() {
        next.timezone_column = header(&mut p, "timezoneColumn", body.timezone_column.as_deref());
    }
    if body.phone_column.is_some() {
        next.phone_column = header(&mut p, "phoneColumn", body.phone_column.as_deref());
    }
    p.finish()?;
    if next == current {
        return Ok(Json(DataResponse::new(current)));
    }
    next.updated_at = state
        .clock
        .now()
        .max(current.updated_at + chrono::Duration::milliseconds(1));
    state.leads.save_list(&next, current.updated_at).await?;
    Ok(Json(DataResponse::with_message(
        next,
        "Lead list updated successfully",
    )))
}

/// Delete a lead list: gone at once, its leads and imports removed in the background. Refused
/// while a running campaign uses the list.
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}/lead-lists/{listId}",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Deleted; its leads are being removed", body = DataResponse<LeadList>),
        (status = 404, description = "TENANT_NOT_FOUND or LEAD_LIST_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "LEAD_LIST_IN_USE: a running campaign uses it", body = ErrorBody),
        (status = 503, description = "IMPORTS_NOT_CONFIGURED: no worker queue to remove its leads", body = ErrorBody),
    )
)]
async fn delete_list(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id)): ApiPath<(TenantId, uuid::Uuid)>,
) -> ApiResult<(StatusCode, Json<DataResponse<LeadList>>)> {
    let list = authorized_list(&state, &principal, id, list_id, Role::Operator).await?;
    let worker = state
        .import_jobs
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable {
            code: "IMPORTS_NOT_CONFIGURED",
            message: "Deleting a list needs LEAD_IMPORT_QUEUE_URL".into(),
        })?;
    let now = state.clock.now();
    state.leads.begin_delete(id, list.id, now).await?;
    let job = LeadJob::DeleteList { list_id: list.id };
    if let Err(e) = jobs::queue(worker, id, job, now).await {
        // Nothing would remove its leads: the list comes back, and the caller may try again.
        state.leads.undo_delete(id, list.id).await?;
        return Err(ApiError::Internal(e));
    }
    tracing::info!(tenant_id = %id, list_id = %list.id, "lead list deleted");
    Ok((
        StatusCode::ACCEPTED,
        Json(DataResponse::with_message(
            list,
            "Lead list deleted; its leads are being removed",
        )),
    ))
}
