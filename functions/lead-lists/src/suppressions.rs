//! The tenant's do-not-call list: add, page through, check one number, remove.

use gobi_domain::leads::model::Suppression;
use gobi_shared::ids::E164;
use gobi_shared::response::count_up_to;

use super::*;

pub(crate) fn routes() -> ApiRouter<LeadListsState> {
    ApiRouter::default()
        .routes(api_routes!(list_suppressions, add_suppression))
        .routes(api_routes!(check_suppression, remove_suppression))
}

fn number(raw: &str) -> ApiResult<E164> {
    E164::parse(raw).map_err(|e| ApiError::validation("phoneNumber", e.0))
}

/// Put a number on the do-not-call list: it is never dialed again by any campaign of the tenant.
/// Adding a number already there answers the entry it has.
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/suppressions",
    tag = "Suppressions",
    params(("id" = TenantId, Path, description = "Tenant id")),
    request_body = AddSuppression,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "On the list", body = DataResponse<Suppression>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn add_suppression(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<AddSuppression>,
) -> ApiResult<(StatusCode, Json<DataResponse<Suppression>>)> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let mut p = Problems::default();
    let phone = p.check(
        "phoneNumber",
        E164::parse(&body.phone_number).map_err(|e| e.0),
    );
    let source = p
        .check(
            "source",
            gobi_shared::text::optional(body.source.as_deref(), 200),
        )
        .flatten();
    p.finish()?;
    let phone = phone.ok_or_else(|| ApiError::validation("phoneNumber", "is required"))?;
    let entry = state
        .leads
        .suppress(&Suppression {
            tenant_id: id,
            phone_number: phone.as_str().to_owned(),
            reason: body.reason,
            source: source.unwrap_or_else(|| "api".into()),
            created_at: state.clock.now(),
        })
        .await?;
    tracing::info!(tenant_id = %id, "number suppressed");
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(entry, "Number suppressed")),
    ))
}

/// The do-not-call list in number order, cursor-paged.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/suppressions",
    tag = "Suppressions",
    params(("id" = TenantId, Path, description = "Tenant id"), CursorQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of the list", body = SuppressionsPage),
        (status = 400, description = "VALIDATION_ERROR (limit, cursor)", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_suppressions(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<CursorQuery>,
) -> ApiResult<Json<SuppressionsPage>> {
    let mut p = Problems::default();
    let limit = p.check("limit", count_up_to(100, query.limit, 50));
    p.finish()?;
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    let (data, next_cursor) = state
        .leads
        .suppressions_page(id, limit.unwrap_or(50), query.cursor.as_deref())
        .await?;
    Ok(Json(SuppressionsPage { data, next_cursor }))
}

/// Whether a number is on the do-not-call list.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/suppressions/{number}",
    tag = "Suppressions",
    params(("id" = TenantId, Path, description = "Tenant id"), ("number" = String, Path, description = "E.164 number")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Whether it is suppressed", body = DataResponse<SuppressionCheck>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = ErrorBody),
    )
)]
async fn check_suppression(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, raw)): ApiPath<(TenantId, String)>,
) -> ApiResult<Json<DataResponse<SuppressionCheck>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Viewer).await?;
    let phone = number(&raw)?;
    let suppression = state.leads.suppression(id, phone.as_str()).await?;
    Ok(Json(DataResponse::new(SuppressionCheck {
        phone_number: phone.as_str().to_owned(),
        suppressed: suppression.is_some(),
        suppression,
    })))
}

/// Take a number off the do-not-call list.
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}/suppressions/{number}",
    tag = "Suppressions",
    params(("id" = TenantId, Path, description = "Tenant id"), ("number" = String, Path, description = "E.164 number")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Removed", body = DataResponse<Suppression>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or SUPPRESSION_NOT_FOUND", body = ErrorBody),
    )
)]
async fn remove_suppression(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, raw)): ApiPath<(TenantId, String)>,
) -> ApiResult<Json<DataResponse<Suppression>>> {
    authorized_tenant(&state.tenants, &principal, id, Role::Operator).await?;
    let phone = number(&raw)?;
    let removed = state
        .leads
        .unsuppress(id, phone.as_str())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "SUPPRESSION_NOT_FOUND",
                format!("{} is not on the do-not-call list", phone.as_str()),
            )
        })?;
    tracing::info!(tenant_id = %id, "suppression removed");
    Ok(Json(DataResponse::with_message(
        removed,
        "Number removed from the do-not-call list",
    )))
}
