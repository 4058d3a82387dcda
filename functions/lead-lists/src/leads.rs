//! A list's leads: a page at a time in number order, and one by id (its number's digits).

use std::collections::BTreeMap;

use gobi_domain::leads::import::{
    MAX_VARIABLE_NAME, MAX_VARIABLE_VALUE, MAX_VARIABLES, parse_number,
};
use gobi_domain::leads::model::{Lead, LeadState};
use gobi_domain::leads::timezones::{self, LeadTimezone};
use gobi_shared::response::count_up_to;

use super::*;

pub(crate) fn routes() -> ApiRouter<LeadListsState> {
    ApiRouter::default()
        .routes(api_routes!(list_leads, add_lead))
        .routes(api_routes!(get_lead, update_lead, delete_lead))
}

/// The fields a lead may be given by API, checked: variables, tags, name, external id.
struct Fields {
    name: Option<String>,
    external_id: Option<String>,
    variables: Option<BTreeMap<String, String>>,
    timezone: Option<String>,
    tags: Option<Vec<String>>,
}

fn checked(
    p: &mut Problems,
    name: Option<&str>,
    external_id: Option<&str>,
    variables: Option<&BTreeMap<String, String>>,
    timezone: Option<&str>,
    tags: Option<&Vec<String>>,
) -> Fields {
    let name = p
        .check("name", gobi_shared::text::optional(name, 200))
        .flatten();
    let external_id = p
        .check("externalId", gobi_shared::text::optional(external_id, 200))
        .flatten();
    if let Some(vars) = variables {
        p.require(
            "variables",
            vars.len() <= MAX_VARIABLES
                && vars.iter().all(|(k, v)| {
                    !k.trim().is_empty()
                        && k.len() <= MAX_VARIABLE_NAME
                        && v.len() <= MAX_VARIABLE_VALUE
                }),
            "at most 50, named, names up to 64 bytes and values up to 1024",
        );
    }
    let timezone = timezone.and_then(|raw| {
        let zone = timezones::iana(raw);
        if zone.is_none() {
            p.push("timezone", "must be an IANA time zone like America/Chicago");
        }
        zone
    });
    if let Some(tags) = tags {
        p.require(
            "tags",
            tags.len() <= 20
                && tags
                    .iter()
                    .all(|t| !t.trim().is_empty() && t.chars().count() <= 50),
            "at most 20 tags of 1 to 50 characters",
        );
    }
    Fields {
        name,
        external_id,
        variables: variables.cloned(),
        timezone,
        tags: tags.cloned(),
    }
}

/// Add one lead to a list (its number once per list; suppressed numbers are added as such).
#[utoipa::path(
    post,
    path = "/api/tenants/{id}/lead-lists/{listId}/leads",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id")),
    request_body = AddLead,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Added", body = DataResponse<Lead>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or LEAD_LIST_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "LEAD_EXISTS", body = ErrorBody),
    )
)]
async fn add_lead(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiJson(body): ApiJson<AddLead>,
) -> ApiResult<(StatusCode, Json<DataResponse<Lead>>)> {
    let list = authorized_list(&state, &principal, id, list_id, Role::Operator).await?;
    let mut p = Problems::default();
    let country = list.default_country.as_deref().and_then(|c| c.parse().ok());
    let e164 = parse_number(&body.phone_number, country);
    if e164.is_none() {
        p.push(
            "phoneNumber",
            "is not a phone number (E.164, or national with the list's defaultCountry)",
        );
    }
    let fields = checked(
        &mut p,
        body.name.as_deref(),
        body.external_id.as_deref(),
        body.variables.as_ref(),
        body.timezone.as_deref(),
        body.tags.as_ref(),
    );
    p.finish()?;
    let e164 = e164.unwrap_or_default();
    let suppressed = state.leads.suppression(id, &e164).await?.is_some();
    let now = state.clock.now();
    let lead = Lead {
        id: Lead::id_of(&e164),
        list_id: list.id,
        tenant_id: id,
        phone_number: e164.clone(),
        name: fields.name,
        external_id: fields.external_id,
        variables: fields.variables.unwrap_or_default(),
        timezone: match fields.timezone {
            Some(zone) => LeadTimezone::Explicit { zone },
            None => timezones::from_number(&e164),
        },
        consent: body.consent.unwrap_or_default(),
        tags: fields.tags.unwrap_or_default(),
        state: if suppressed {
            LeadState::Suppressed
        } else {
            LeadState::Valid
        },
        created_at: now,
        updated_at: now,
    };
    state.leads.add_lead(&list, &lead).await?;
    Ok((
        StatusCode::CREATED,
        Json(DataResponse::with_message(lead, "Lead added successfully")),
    ))
}

async fn lead_of(state: &LeadListsState, list: uuid::Uuid, lead_id: &str) -> ApiResult<Lead> {
    let digits = lead_id.trim_start_matches('+');
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(lead_not_found(lead_id));
    }
    state
        .leads
        .lead(list, &format!("+{digits}"))
        .await?
        .ok_or_else(|| lead_not_found(lead_id))
}

/// Change a lead's name, external id, variables, time zone, consent or tags.
#[utoipa::path(
    patch,
    path = "/api/tenants/{id}/lead-lists/{listId}/leads/{leadId}",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id"), ("leadId" = String, Path, description = "The lead's number in E.164 without +")),
    request_body = UpdateLead,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Changed", body = DataResponse<Lead>),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND, LEAD_LIST_NOT_FOUND or LEAD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CONCURRENT_MODIFICATION", body = ErrorBody),
    )
)]
async fn update_lead(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id, lead_id)): ApiPath<(TenantId, uuid::Uuid, String)>,
    ApiJson(body): ApiJson<UpdateLead>,
) -> ApiResult<Json<DataResponse<Lead>>> {
    let list = authorized_list(&state, &principal, id, list_id, Role::Operator).await?;
    let current = lead_of(&state, list.id, &lead_id).await?;
    let mut p = Problems::default();
    let fields = checked(
        &mut p,
        body.name.as_deref(),
        body.external_id.as_deref(),
        body.variables.as_ref(),
        body.timezone.as_deref(),
        body.tags.as_ref(),
    );
    p.finish()?;
    let mut next = current.clone();
    if body.name.is_some() {
        next.name = fields.name;
    }
    if body.external_id.is_some() {
        next.external_id = fields.external_id;
    }
    if let Some(variables) = fields.variables {
        next.variables = variables;
    }
    if let Some(zone) = fields.timezone {
        next.timezone = LeadTimezone::Explicit { zone };
    }
    if let Some(consent) = body.consent {
        next.consent = consent;
    }
    if let Some(tags) = fields.tags {
        next.tags = tags;
    }
    if next == current {
        return Ok(Json(DataResponse::new(current)));
    }
    next.updated_at = state
        .clock
        .now()
        .max(current.updated_at + chrono::Duration::milliseconds(1));
    state.leads.save_lead(&next, current.updated_at).await?;
    Ok(Json(DataResponse::with_message(
        next,
        "Lead updated successfully",
    )))
}

/// Remove a lead from its list.
#[utoipa::path(
    delete,
    path = "/api/tenants/{id}/lead-lists/{listId}/leads/{leadId}",
    tag = "Lead lists",
    params(("id" = TenantId, Path, description = "Tenant id"), ("listId" = uuid::Uuid, Path, description = "Lead list id"), ("leadId" = String, Path, description = "The lead's number in E.164 without +")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Removed", body = DataResponse<Lead>),
        (status = 404, description = "TENANT_NOT_FOUND, LEAD_LIST_NOT_FOUND or LEAD_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CONCURRENT_MODIFICATION", body = ErrorBody),
    )
)]
async fn delete_lead(
    principal: Principal,
    State(state): State<LeadListsState>,
    ApiPath((id, list_id, lead_id)): ApiPath<(TenantId, uuid::Uuid, String)>,
) -> ApiResult<Json<DataResponse<Lead>>> {
    let list = authorized_list(&state, &principal, id, list_id, Role::Operator).await?;
    let lead = lead_of(&state, list.id, &lead_id).await?;
    state.leads.remove_lead(&list, &lead).await?;
    Ok(Json(DataResponse::with_message(lead, "Lead removed")))
}

/// Leads one filtered page looks at, at most (bounded work per request).
const MAX_EXAMINED_PER_PAGE: usize = 2_000;

fn lead_not_found(id: &str) -> ApiError {
    ApiError::not_found("LEAD_NOT_FOUND", format!("Lead {id} not found"))
}

/// A list's leads in number order, cursor-paged; `state` and `search` (digits of the number, or
/// text of the name) filter them. A filtered page is read until it is full or 2,000 leads were
/// looked at; then it may be short, and `nextCursor` goes on from there.
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
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty());
    // Digits and phone punctuation search the number; anything else searches the name.
    let by_number = search.is_some_and(|q| {
        q.chars()
            .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
    });
    let digits: String = search
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let text = search.map(str::to_lowercase);
    let keep = |lead: &Lead| {
        query.state.is_none_or(|wanted| lead.state == wanted)
            && match &text {
                None => true,
                Some(_) if by_number => !digits.is_empty() && lead.phone_number.contains(&digits),
                Some(text) => lead
                    .name
                    .as_deref()
                    .is_some_and(|name| name.to_lowercase().contains(text.as_str())),
            }
    };
    let (data, next_cursor) = state
        .leads
        .matching_leads(
            list.id,
            limit.unwrap_or(50),
            query.cursor.as_deref(),
            MAX_EXAMINED_PER_PAGE,
            keep,
        )
        .await?;
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
    let lead = lead_of(&state, list.id, &lead_id).await?;
    Ok(Json(DataResponse::new(lead)))
}
