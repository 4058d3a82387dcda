//! A campaign's report: per lead, its status, attempts (each with its outcome, codes and the
//! disposition of its call), final outcome and disposition; a page of leads at a time, as JSON or,
//! with `Accept: text/csv`, as CSV (one row per lead, the next page's cursor in `x-next-cursor`).

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gobi_domain::campaigns::dialing::{Attempt, CampaignLead, LeadStatus, Outcome, SkipReason};
use gobi_shared::error::Problems;
use gobi_shared::response::count_up_to;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::*;

pub(crate) fn routes() -> ApiRouter<CampaignsState> {
    ApiRouter::default().routes(api_routes!(campaign_report))
}

/// `GET /api/tenants/{id}/campaigns/{campaignId}/report`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Leads per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// From the previous page's `nextCursor` (or `x-next-cursor`).
    #[param(max_length = 200)]
    pub cursor: Option<String>,
}

/// One lead of the report.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    pub phone_number: String,
    pub lead_id: String,
    pub list_id: uuid::Uuid,
    pub status: LeadStatus,
    pub skip_reason: Option<SkipReason>,
    /// The outcome of its last attempt.
    pub final_outcome: Option<Outcome>,
    /// The disposition of its last attempt's call.
    pub disposition: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
}

/// A page of the report.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignReport {
    pub data: Vec<ReportRow>,
    pub next_cursor: Option<String>,
}

const CSV_HEADER: [&str; 9] = [
    "phoneNumber",
    "leadId",
    "status",
    "skipReason",
    "attempts",
    "finalOutcome",
    "disposition",
    "lastAttemptAt",
    "listId",
];

/// The campaign's report, a page of leads at a time (two reads a page: the leads, then their
/// attempts in one range).
#[utoipa::path(
    get,
    path = "/api/tenants/{id}/campaigns/{campaignId}/report",
    tag = "Campaigns",
    params(("id" = TenantId, Path, description = "Tenant id"), ("campaignId" = uuid::Uuid, Path, description = "Campaign id"), ReportQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of the report: JSON, or CSV when `Accept` asks for `text/csv` (the next page's cursor in `x-next-cursor`)", content((CampaignReport = "application/json"), (String = "text/csv"))),
        (status = 400, description = "VALIDATION_ERROR (limit, cursor)", body = ErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND or CAMPAIGN_NOT_FOUND", body = ErrorBody),
    )
)]
async fn campaign_report(
    principal: Principal,
    State(state): State<CampaignsState>,
    ApiPath((id, campaign_id)): ApiPath<(TenantId, uuid::Uuid)>,
    ApiQuery(query): ApiQuery<ReportQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let mut p = Problems::default();
    let limit = p.check("limit", count_up_to(1000, query.limit, 100));
    p.finish()?;
    let (_, campaign) =
        authorized_campaign(&state, &principal, id, campaign_id, Role::Viewer).await?;
    let (leads, next_cursor) = state
        .campaigns
        .leads_page(
            campaign.id,
            None,
            limit.unwrap_or(100),
            query.cursor.as_deref(),
        )
        .await?;
    let attempts = match (leads.first(), leads.last()) {
        (Some(first), Some(last)) => {
            state
                .campaigns
                .attempts_between(campaign.id, &first.lead_id, &last.lead_id)
                .await?
        }
        _ => Vec::new(),
    };
    let data = rows(leads, attempts);
    let wants_csv = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/csv"));
    if !wants_csv {
        return Ok(Json(CampaignReport { data, next_cursor }).into_response());
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_failed = |e: csv::Error| ApiError::Internal(anyhow::Error::new(e));
    out.write_record(CSV_HEADER).map_err(csv_failed)?;
    for row in &data {
        out.write_record([
            row.phone_number.clone(),
            row.lead_id.clone(),
            wire(&row.status),
            row.skip_reason.as_ref().map(wire).unwrap_or_default(),
            row.attempts.len().to_string(),
            row.final_outcome.as_ref().map(wire).unwrap_or_default(),
            row.disposition.clone().unwrap_or_default(),
            row.last_attempt_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default(),
            row.list_id.to_string(),
        ])
        .map_err(csv_failed)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("writing the report: {e}")))?;
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Some(cursor) = next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert("x-next-cursor", cursor);
    }
    Ok(response)
}

/// The rows of a page of leads, each with its attempts (both in lead order).
fn rows(leads: Vec<CampaignLead>, attempts: Vec<Attempt>) -> Vec<ReportRow> {
    let mut attempts = attempts.into_iter().peekable();
    leads
        .into_iter()
        .map(|lead| {
            let mut mine = Vec::new();
            while let Some(attempt) = attempts.next_if(|a| a.lead_id <= lead.lead_id) {
                if attempt.lead_id == lead.lead_id {
                    mine.push(attempt);
                }
            }
            let last = mine.last();
            ReportRow {
                phone_number: lead.phone_number,
                lead_id: lead.lead_id,
                list_id: lead.list_id,
                status: lead.status,
                skip_reason: lead.skip_reason,
                final_outcome: lead.last_outcome,
                disposition: last.and_then(|a| a.disposition.clone()),
                last_attempt_at: last.map(|a| a.started_at),
                attempts: mine,
            }
        })
        .collect()
}

/// A value as the JSON report writes it (an enum's camelCase name).
fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
