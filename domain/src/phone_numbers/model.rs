//! Phone numbers as stored and as each path family shows them, and the bodies that change them.

use chrono::{DateTime, Utc};
use gobi_shared::ids::{AgentId, E164, PhoneNumberId, TenantId};
use gobi_shared::serde_fields::nullable;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What LiveKit holds for one number: its inbound trunk and dispatch rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SipRoute {
    pub trunk_id: String,
    pub dispatch_rule_id: String,
}

/// The kinds of number Twilio sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NumberType {
    Local,
    TollFree,
    Mobile,
}

/// Where a number is in its life. `purchasing` and `sip_pending` are the steps of a purchase;
/// a number left in one of them is finished by posting the same number again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberStatus {
    Purchasing,
    SipPending,
    Active,
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Provider {
    #[default]
    Twilio,
}

/// The stored number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    pub id: PhoneNumberId,
    pub tenant_id: TenantId,
    pub e164: E164,
    /// The international form (`+1 555 123 4567`), worked out by libphonenumber when the number
    /// is stored, so that reading numbers never loads its metadata (about 6 MB of memory and
    /// tens of milliseconds on a cold start). Numbers stored before it existed have none: their
    /// views work it out.
    #[serde(default)]
    pub display: Option<String>,
    pub number_type: NumberType,
    pub label: Option<String>,
    pub provider: Provider,
    pub status: NumberStatus,
    pub agent_id: Option<AgentId>,
    pub twilio_sid: Option<String>,
    pub twilio_status: Option<String>,
    pub twilio_date_created: Option<DateTime<Utc>>,
    pub sip: Option<SipRoute>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PhoneNumber {
    pub fn is_active(&self) -> bool {
        self.status == NumberStatus::Active
    }

    pub fn view(&self) -> PhoneNumberView {
        PhoneNumberView {
            id: self.id,
            number: self.display.clone().unwrap_or_else(|| self.e164.display()),
            e164: self.e164.clone(),
            number_type: self.number_type,
            label: self.label.clone(),
            provider: self.provider,
            is_active: self.is_active(),
            status: self.status,
            tenant_id: self.tenant_id,
            agent_id: self.agent_id,
            twilio_sid: self.twilio_sid.clone(),
            livekit: self.sip.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn internal_view(&self) -> InternalPhoneNumber {
        InternalPhoneNumber {
            id: self.id,
            tenant_id: self.tenant_id,
            e164: self.e164.clone(),
            twilio_sid: self.twilio_sid.clone(),
            agent_id: self.agent_id,
            status: self.status,
            is_active: self.is_active(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A number under `/api` (camelCase, the first seed's example).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberView {
    pub id: PhoneNumberId,
    /// Display form, e.g. `+1 555 123 4567`.
    #[schema(example = "+1 555 123 4567")]
    pub number: String,
    pub e164: E164,
    #[serde(rename = "type")]
    pub number_type: NumberType,
    pub label: Option<String>,
    pub provider: Provider,
    pub is_active: bool,
    pub status: NumberStatus,
    pub tenant_id: TenantId,
    pub agent_id: Option<AgentId>,
    pub twilio_sid: Option<String>,
    /// The LiveKit trunk and dispatch rule, once provisioned.
    pub livekit: Option<SipRoute>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A number under `/internal` (snake_case, the second seed's fields).
#[derive(Debug, Serialize, ToSchema)]
pub struct InternalPhoneNumber {
    pub id: PhoneNumberId,
    pub tenant_id: TenantId,
    pub e164: E164,
    pub twilio_sid: Option<String>,
    pub agent_id: Option<AgentId>,
    pub status: NumberStatus,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The `twilio` block of a purchase answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwilioPurchase {
    #[schema(example = "PNxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    pub sid: String,
    #[schema(example = "in-use")]
    pub status: Option<String>,
    pub date_created: Option<DateTime<Utc>>,
}

/// `POST /api/tenants/{id}/phone-numbers` answer, as the first seed shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseResponse {
    pub data: PhoneNumberView,
    pub message: String,
    pub twilio: TwilioPurchase,
}

pub fn label(raw: Option<&str>) -> Result<Option<String>, String> {
    match raw.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) if l.chars().count() > 100 => Err("must be at most 100 characters".into()),
        other => Ok(other.map(str::to_owned)),
    }
}

/// `POST /api/tenants/{id}/phone-numbers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurchaseNumber {
    /// E.164, e.g. `+15551234567`.
    #[schema(value_type = E164)]
    pub number: String,
    /// Defaults to `LOCAL`.
    #[serde(rename = "type")]
    pub number_type: Option<NumberType>,
    #[schema(max_length = 100, example = "Main Office")]
    pub label: Option<String>,
    /// Only `TWILIO`.
    pub provider: Option<Provider>,
    /// The agent that answers this number's calls.
    pub agent_id: Option<AgentId>,
}

/// `PUT /api/tenants/{id}/phone-numbers/{phoneId}`: only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateNumber {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub label: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<AgentId>)]
    pub agent_id: Option<Option<AgentId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool, required = false)]
    pub is_active: Option<Option<bool>>,
}

/// `GET /api/tenants/{id}/phone-numbers/available` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailableQuery {
    /// `LOCAL` (default), `TOLL_FREE` or `MOBILE`.
    #[serde(rename = "type")]
    #[param(inline)]
    pub number_type: Option<NumberType>,
    /// Three digits.
    #[param(pattern = r"^[0-9]{3}$", example = "555")]
    pub area_code: Option<String>,
    /// Digits and letters the number contains; `*` matches any one.
    #[param(pattern = r"^[0-9A-Za-z*]{1,16}$")]
    pub contains: Option<String>,
    /// ISO 3166 alpha-2, default `US`.
    #[param(pattern = r"^[A-Za-z]{2}$", example = "US")]
    pub country: Option<String>,
    /// 1 to 50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

/// One number Twilio offers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailableNumberView {
    pub phone_number: E164,
    /// Display form, e.g. `+1 555 123 4567`.
    pub number: String,
    pub friendly_name: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub iso_country: Option<String>,
    #[serde(rename = "type")]
    pub number_type: NumberType,
    pub capabilities: CapabilitiesView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilitiesView {
    pub voice: bool,
    pub sms: bool,
    pub mms: bool,
}

/// `GET /api/tenants/{id}/phone-numbers` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub is_active: Option<bool>,
}

/// `DELETE /api/tenants/{id}/phone-numbers/{phoneId}` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Admin only: give the number back to Twilio and remove its LiveKit trunk and rule,
    /// instead of only deactivating it.
    pub release: Option<bool>,
}

/// `GET /internal/phone-numbers` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InternalListQuery {
    pub tenant_id: TenantId,
    /// 1 to 500 (default 200).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 2048)]
    pub cursor: Option<String>,
}

/// `GET /internal/phone-numbers` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct InternalPage {
    pub data: Vec<InternalPhoneNumber>,
    /// Present while more numbers follow.
    pub next_cursor: Option<String>,
}

/// `active` or `inactive` when registering a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegisterStatus {
    Active,
    Inactive,
}

/// `POST /internal/phone-numbers`: a number the Twilio account already owns.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterNumber {
    pub tenant_id: TenantId,
    #[schema(value_type = E164)]
    pub e164: String,
    #[schema(
        pattern = r"^PN[0-9a-fA-F]{32}$",
        example = "PN0123456789abcdef0123456789abcdef"
    )]
    pub twilio_sid: String,
    pub agent_id: Option<AgentId>,
    pub status: Option<RegisterStatus>,
}

/// `PATCH /internal/phone-numbers/{phoneNumberId}/agent`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignAgent {
    /// An agent id, or `null` to unassign.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<AgentId>, required = true)]
    pub agent_id: Option<Option<AgentId>>,
}

pub fn twilio_sid(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let valid =
        raw.len() == 34 && raw.starts_with("PN") && raw[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("must be a Twilio phone number SID: PN and 32 hex digits".into())
    }
}
