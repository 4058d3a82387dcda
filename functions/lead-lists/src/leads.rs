//! A list's leads: a page at a time in number order, and one by id (its number's digits).

use gobi_domain::leads::model::Lead;
use gobi_shared::response::count_up_to;

use super::*;

pub(crate) fn routes() -> OpenApiRouter<LeadListsState> {
    OpenApiRouter::default()
        .routes(routes!(list_leads))
        .routes(routes!(get_lead))
}

fn lead_not_found(id: &str) -> ApiError {
    ApiError::not_found("LEAD_NOT_FOUND", format!("Lead {id} not found"))
}

/// A list's leads in number order, cursor-paged; `state` keeps one state's leads of the page read.
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/lead-lists/{listId}/leads",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id"), LeadsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of leads", body = LeadsPage),
        (status = 400, description = "VALIDATION_ERROR (limit, cursor)", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or LEAD_LIST_NOT_FOUND", body = ErrorBody),
    )
)]
async fn list_leads(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiQuery(query): ApiQuery<LeadsQuery>,
) -> ApiResult<Json<LeadsPage>> {
    let mut p = Problems::default();
    let limit = p.check("limit", count_up_to(100, query.limit, 50));
    p.finish()?;
    let list = authorized_list(&state, &principal, id, list_id, Role::Viewer).await?;
    let (leads, next_cursor) = state
        .leads
        .leads_page(list.id, limit.unwrap_or(50), query.cursor.as_deref())
        .await?;
    let data = leads
        .into_iter()
        .filter(|lead| query.state.is_none_or(|wanted| lead.state == wanted))
        .collect();
    Ok(Json(LeadsPage { data, next_cursor }))
}

/// One lead, by its number's digits (`14155550100`).
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/lead-lists/{listId}/leads/{leadId}",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id"), ("leadId" = String, Path, description = "The lead's number in E.164 without +")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The lead", body = DataResponse<Lead>),
        (status = 404, description = "TENANT_NOT_FOUND, LEAD_LIST_NOT_FOUND or LEAD_NOT_FOUND", body = ErrorBody),
    )
)]
async fn get_lead(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id, lead_id)): ApiPath<(TenantId, uuid::Uuid, String)>,
) -> ApiResult<Json<DataResponse<Lead>>> {
    let list = authorized_list(&state, &principal, id, list_id, Role::Viewer).await?;
    let digits = lead_id.trim_start_matches('+');
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(lead_not_found(&lead_id));
    }
    state
        .leads
        .lead(list.id, &format!("+{digits}"))
        .await?
        .map(|lead| Json(DataResponse::new(lead)))
        .ok_or_else(|| lead_not_found(&lead_id))
}
