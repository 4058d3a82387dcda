//! Bodies, queries and answers of the lead-list routes (camelCase, the first seed's family).

use gobi_domain::leads::model::{
    Consent, Lead, LeadImport, LeadState, Suppression, SuppressionReason,
};
use gobi_domain::leads::store::OnDuplicate;
use gobi_shared::error::Problems;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /api/tenants/{id}/lead-lists`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateLeadList {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Spring renewals"
    )]
    pub name: String,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// ISO 3166 alpha-2 country for numbers written without a country code.
    #[schema(example = "US", pattern = "^[A-Za-z]{2}$")]
    pub default_country: Option<String>,
    /// The header of the time zone column (IANA names) of this list's files.
    #[schema(max_length = 100)]
    pub timezone_column: Option<String>,
    /// The header of the phone column; detected when absent.
    #[schema(max_length = 100)]
    pub phone_column: Option<String>,
}

/// `PUT /api/tenants/{id}/lead-lists/{listId}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateLeadList {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(example = "US", pattern = "^[A-Za-z]{2}$")]
    pub default_country: Option<String>,
    #[schema(max_length = 100)]
    pub timezone_column: Option<String>,
    #[schema(max_length = 100)]
    pub phone_column: Option<String>,
}

/// An ISO 3166 alpha-2 country libphonenumber knows, upper-cased.
pub fn country(raw: &str) -> Result<String, &'static str> {
    let code = raw.trim().to_ascii_uppercase();
    code.parse::<phonenumber::country::Id>()
        .map(|_| code)
        .map_err(|_| "must be an ISO 3166 alpha-2 country code like US or GB")
}

pub fn header(p: &mut Problems, field: &str, raw: Option<&str>) -> Option<String> {
    p.check(field, gobi_shared::text::optional(raw, 100))
        .flatten()
}

/// A cursor page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CursorQuery {
    /// 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From the previous page's `nextCursor`.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
}

/// One page of leads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadsPage {
    pub data: Vec<Lead>,
    pub next_cursor: Option<String>,
}

/// `GET .../leads` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeadsQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(max_length = 200)]
    pub cursor: Option<String>,
    /// Only leads in this state (filters the page read).
    pub state: Option<LeadState>,
    /// Only leads whose number contains these digits or whose name contains this text, in any
    /// case (filters the page read).
    #[param(max_length = 100)]
    pub search: Option<String>,
}

/// `POST /api/tenants/{id}/suppressions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddSuppression {
    /// E.164.
    #[schema(example = "+14155550100", max_length = 16)]
    pub phone_number: String,
    pub reason: SuppressionReason,
    #[schema(max_length = 200)]
    pub source: Option<String>,
}

/// One page of the do-not-call list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionsPage {
    pub data: Vec<Suppression>,
    pub next_cursor: Option<String>,
}

/// Whether a number may be called.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionCheck {
    pub phone_number: String,
    pub suppressed: bool,
    pub suppression: Option<Suppression>,
}

/// `POST .../imports` query (also accepted in the JSON body). Other parameters are ignored.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Validate and count every row, write no lead.
    pub dry_run: Option<bool>,
    /// A row whose number the list has: `skip` (default) or `update`.
    pub on_duplicate: Option<OnDuplicate>,
}

/// `POST .../imports` with a JSON body: prepare an upload URL for a file up to 100 MB.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateImport {
    /// The file's name, for the record.
    #[schema(max_length = 255)]
    pub file_name: Option<String>,
    /// The file's exact size: the upload URL takes a body of this length only.
    #[schema(minimum = 1, maximum = 104857600)]
    pub size_bytes: u64,
    pub dry_run: Option<bool>,
    pub on_duplicate: Option<OnDuplicate>,
}

/// `POST /api/tenants/{id}/suppressions/imports` query (also accepted in the JSON body).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SuppressionImportQuery {
    /// Validate and count every row, suppress nothing.
    pub dry_run: Option<bool>,
    /// Why the file's numbers are suppressed (default `manual`).
    pub reason: Option<SuppressionReason>,
    /// ISO 3166 alpha-2 country for numbers written without a country code.
    pub default_country: Option<String>,
}

/// `POST /api/tenants/{id}/suppressions/imports` with a JSON body: prepare an upload URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSuppressionImport {
    #[schema(max_length = 255)]
    pub file_name: Option<String>,
    /// The file's exact size: the upload URL takes a body of this length only.
    #[schema(minimum = 1, maximum = 104857600)]
    pub size_bytes: u64,
    pub dry_run: Option<bool>,
    pub reason: Option<SuppressionReason>,
    #[schema(example = "US", pattern = "^[A-Za-z]{2}$")]
    pub default_country: Option<String>,
}

/// A new import, and for an upload its URL (PUT the file there with `content-type: text/csv`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportCreated {
    #[serde(flatten)]
    pub import: LeadImport,
    pub upload_url: Option<String>,
    pub upload_expires_in_seconds: Option<u64>,
}

/// `POST .../leads`: one lead added by API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddLead {
    /// E.164, or national with the list's `defaultCountry`.
    #[schema(example = "+14155550100", min_length = 1, max_length = 40)]
    pub phone_number: String,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 200)]
    pub external_id: Option<String>,
    /// At most 50; names up to 64 bytes, values up to 1024.
    pub variables: Option<std::collections::BTreeMap<String, String>>,
    /// An IANA time zone; else the number's.
    #[schema(example = "America/Chicago", max_length = 64)]
    pub timezone: Option<String>,
    pub consent: Option<Consent>,
    /// At most 20, each up to 50 characters.
    pub tags: Option<Vec<String>>,
}

/// `PATCH .../leads/{leadId}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateLead {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 200)]
    pub external_id: Option<String>,
    pub variables: Option<std::collections::BTreeMap<String, String>>,
    #[schema(example = "America/Chicago", max_length = 64)]
    pub timezone: Option<String>,
    pub consent: Option<Consent>,
    pub tags: Option<Vec<String>>,
}
