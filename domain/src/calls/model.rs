//! Calls, their filters and legal holds, and the items they are stored as.

use super::*;

/// Twilio's call statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
}

impl CallStatus {
    /// Twilio's own spelling, as its callbacks send it.
    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }

    /// A call only moves forward through these; callbacks that arrive late change nothing.
    pub fn rank(self) -> u8 {
        match self {
            Self::Queued | Self::Initiated => 0,
            Self::Ringing => 1,
            Self::InProgress => 2,
            Self::Completed | Self::Busy | Self::Failed | Self::NoAnswer | Self::Canceled => 3,
        }
    }

    pub fn is_final(self) -> bool {
        self.rank() == 3
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Call {
    pub id: CallId,
    pub tenant_id: TenantId,
    pub call_sid: String,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    pub agent_id: Option<AgentId>,
    /// The agent version the call runs, chosen when it opened (a campaign's pin or split, else
    /// the agent's active version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version_id: Option<AgentVersionId>,
    pub phone_number_id: Option<PhoneNumberId>,
    /// The tenant's time zone when the call opened: its metrics count in this zone's hour and day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Who answered an outbound call, as Twilio's answering-machine detection said (`human`,
    /// `machine_start`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    pub status: CallStatus,
    pub started_at: DateTime<Utc>,
    /// Absent until answered (so `if_not_exists` keeps the first answer time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_id: Option<DispatchId>,
    /// How `end` happened, as the runtime reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// The tenant's retention when the call began: its data expires this many days after `started_at`.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// A legal hold on this call: its data does not expire and cannot be deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<LegalHold>,
    /// The campaign that placed it (outbound) or that its number was assigned to (inbound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<uuid::Uuid>,
    /// The campaign's lead it called, or the caller of an inbound campaign (number's digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    /// Which of the lead's attempts it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_attempt: Option<u32>,
    /// How it ended for the business, as the runtime reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<super::CallDisposition>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const DEFAULT_RETENTION_DAYS: u32 = 365;

/// The CallSid the dialer gives a call it places through LiveKit begins so (Twilio's are `CA…`).
pub const LIVEKIT_CALL_SID_PREFIX: &str = "livekit-";

pub(crate) fn default_retention() -> u32 {
    DEFAULT_RETENTION_DAYS
}

/// The most call items one page of `/client/calls` reads, however few match its filter.
pub const MAX_CALLS_READ: usize = 1000;

/// Who placed a legal hold, when and why. A tenant's `client_viewer` sees only that a hold is
/// in place and since when: the reason and who placed it are the platform's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LegalHold {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_by: Option<String>,
    pub placed_at: DateTime<Utc>,
}

impl LegalHold {
    /// What `principal` is shown: internal roles the whole hold, a `client_viewer` only that a
    /// hold is in place and since when.
    pub fn shown_to(self, principal: &gobi_shared::auth::Principal) -> Self {
        if principal.may(gobi_shared::auth::Access::INTERNAL) {
            return self;
        }
        Self {
            reason: None,
            placed_by: None,
            placed_at: self.placed_at,
        }
    }
}

/// What a call that starts ringing is: who called whom, for which agent and number.
#[derive(Debug, Clone)]
pub struct RingingCall {
    pub tenant_id: TenantId,
    pub call_sid: String,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    pub agent_id: Option<AgentId>,
    pub agent_version_id: Option<AgentVersionId>,
    pub phone_number_id: Option<PhoneNumberId>,
    pub retention_days: u32,
    /// The tenant's time zone.
    pub timezone: String,
    /// Twilio's `AnsweredBy` (outbound calls with answering-machine detection).
    pub answered_by: Option<String>,
    /// The campaign the call is part of.
    pub campaign: Option<CampaignCall>,
}

/// A campaign's call: an outbound attempt on one lead, or a call to an inbound campaign's
/// number.
#[derive(Debug, Clone)]
pub struct CampaignCall {
    pub campaign_id: uuid::Uuid,
    /// The lead's (or the caller's) number's digits.
    pub lead_id: String,
    /// Which of the lead's attempts (outbound).
    pub attempt: Option<u32>,
}

impl Call {
    /// A new call, ringing now, with a fresh id.
    pub fn ringing(call: RingingCall, now: DateTime<Utc>) -> Self {
        let (campaign_id, lead_id, campaign_attempt) = match call.campaign {
            Some(c) => (Some(c.campaign_id), Some(c.lead_id), c.attempt),
            None => (None, None, None),
        };
        Self {
            id: CallId::new(),
            tenant_id: call.tenant_id,
            call_sid: call.call_sid,
            direction: call.direction,
            from: call.from.chars().take(64).collect(),
            to: call.to.chars().take(64).collect(),
            agent_id: call.agent_id,
            agent_version_id: call.agent_version_id,
            phone_number_id: call.phone_number_id,
            timezone: Some(call.timezone),
            answered_by: call.answered_by,
            status: CallStatus::Ringing,
            started_at: now,
            answered_at: None,
            ended_at: None,
            duration_seconds: None,
            dispatch_id: None,
            end_reason: None,
            retention_days: call.retention_days,
            legal_hold: None,
            campaign_id,
            lead_id,
            campaign_attempt,
            disposition: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Who and when the call counts for in the metrics: its tenant, agent, version, campaign and
    /// the tenant's number on it, at the hour it began.
    pub fn metric_scope(&self) -> super::MetricScope {
        super::MetricScope {
            tenant: self.tenant_id,
            agent: self.agent_id,
            version: self.agent_version_id,
            campaign: self.campaign_id,
            number: Some(match self.direction {
                Direction::Inbound => self.to.clone(),
                Direction::Outbound => self.from.clone(),
            }),
            timezone: self.timezone.clone(),
            at: self.started_at,
        }
    }

    /// What the tenant's webhooks are told of the call (`call.*` events).
    pub fn event_data(&self) -> serde_json::Value {
        serde_json::json!({
            "callId": self.id,
            "direction": self.direction,
            "from": self.from,
            "to": self.to,
            "status": self.status,
            "agentId": self.agent_id,
            "agentVersionId": self.agent_version_id,
            "phoneNumberId": self.phone_number_id,
            "campaignId": self.campaign_id,
            "leadId": self.lead_id,
            "startedAt": self.started_at,
            "answeredAt": self.answered_at,
            "endedAt": self.ended_at,
            "durationSeconds": self.duration_seconds,
            "endReason": self.end_reason,
            "disposition": self.disposition,
        })
    }

    /// Answered by a machine, as Twilio's answering-machine detection said.
    pub fn answered_by_machine(&self) -> bool {
        self.answered_by
            .as_deref()
            .is_some_and(|a| a.starts_with("machine") || a == "fax")
    }

    /// Placed by the dialer through LiveKit's SIP outbound trunk (no Twilio call behind it).
    pub fn placed_through_livekit(&self) -> bool {
        self.call_sid.starts_with(LIVEKIT_CALL_SID_PREFIX)
    }

    /// The LiveKit room its runtime dispatch puts the agent in.
    pub fn room_name(&self) -> String {
        format!("call-{}", self.id)
    }

    /// When the call's data expires (epoch seconds), unless a hold keeps it.
    pub fn expiry(&self, tenant_held: bool) -> Option<i64> {
        if tenant_held || self.legal_hold.is_some() {
            return None;
        }
        Some((self.started_at + chrono::Duration::days(i64::from(self.retention_days))).timestamp())
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CallItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) gsi1pk: String,
    pub(crate) gsi1sk: String,
    pub(crate) status_rank: u8,
    /// DynamoDB TTL (epoch seconds); absent while a legal hold applies.
    #[serde(rename = "expiresAt", default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<i64>,
    #[serde(flatten)]
    pub(crate) call: Call,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SidMarker {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) tenant_id: TenantId,
    pub(crate) call_id: CallId,
    /// Set when the call opens, removed by the transaction that creates its dispatch: while it
    /// is set, a redelivered webhook queues the handoff again (the worker is idempotent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) handoff_due: bool,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct DispatchItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) gsi1pk: String,
    pub(crate) gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) gsi2sk: Option<String>,
    /// `expires_at` in epoch milliseconds, for conditions (text timestamps do not compare).
    pub(crate) expires_ms: i64,
    #[serde(flatten)]
    pub(crate) dispatch: Dispatch,
}

/// The filters of a call list.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub status: Option<CallStatus>,
    pub direction: Option<Direction>,
    pub agent_id: Option<AgentId>,
    /// The called number (E.164).
    pub number: Option<String>,
}

/// The smallest and largest v7 ids of a millisecond: calls' sort keys bound a time range.
pub(crate) fn v7_bound(at: DateTime<Utc>, upper: bool) -> String {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let (hi, mid) = (ms >> 16, ms & 0xFFFF);
    if upper {
        format!("{hi:08x}-{mid:04x}-7fff-bfff-ffffffffffff")
    } else {
        format!("{hi:08x}-{mid:04x}-7000-8000-000000000000")
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SubItem<T> {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(rename = "expiresAt", default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<i64>,
    #[serde(flatten)]
    pub(crate) value: T,
}

pub fn legal_hold_active() -> StoreError {
    StoreError::conflict(
        "LEGAL_HOLD_ACTIVE",
        "A legal hold is in place; nothing may be deleted",
    )
}

pub fn call_being_deleted() -> StoreError {
    StoreError::conflict(
        "CALL_BEING_DELETED",
        "The call is being deleted; its deletion was checked against holds when it began",
    )
}

pub fn call_not_found(id: CallId) -> StoreError {
    StoreError::not_found("CALL_NOT_FOUND", format!("Call {id} not found"))
}

pub fn dispatch_not_found(id: DispatchId) -> StoreError {
    StoreError::not_found("DISPATCH_NOT_FOUND", format!("Dispatch {id} not found"))
}

/// How a claim ended.
pub enum Claim {
    /// Claimed now: the only time the token is handed out.
    Won(Box<Dispatch>),
    AlreadyClaimed,
    Expired,
}
