//! Webhook endpoints, the events they subscribe to, and each delivery with its attempts.

use chrono::{DateTime, Utc};
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What happened, as a receiver sees it in the payload's `type`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
pub enum EventType {
    #[serde(rename = "call.started")]
    CallStarted,
    #[serde(rename = "call.answered")]
    CallAnswered,
    /// With the call's disposition, when the runtime reported one by then.
    #[serde(rename = "call.ended")]
    CallEnded,
    #[serde(rename = "campaign.started")]
    CampaignStarted,
    #[serde(rename = "campaign.paused")]
    CampaignPaused,
    #[serde(rename = "campaign.completed")]
    CampaignCompleted,
    #[serde(rename = "lead.completed")]
    LeadCompleted,
    #[serde(rename = "import.completed")]
    ImportCompleted,
    #[serde(rename = "agent.offline")]
    AgentOffline,
    /// Sent to the tenant's other endpoints when one is disabled for failing.
    #[serde(rename = "endpoint.disabled")]
    EndpointDisabled,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        Self::CallStarted,
        Self::CallAnswered,
        Self::CallEnded,
        Self::CampaignStarted,
        Self::CampaignPaused,
        Self::CampaignCompleted,
        Self::LeadCompleted,
        Self::ImportCompleted,
        Self::AgentOffline,
        Self::EndpointDisabled,
    ];

    /// The name in payloads and subscriptions (`call.started`).
    pub fn name(self) -> &'static str {
        match self {
            Self::CallStarted => "call.started",
            Self::CallAnswered => "call.answered",
            Self::CallEnded => "call.ended",
            Self::CampaignStarted => "campaign.started",
            Self::CampaignPaused => "campaign.paused",
            Self::CampaignCompleted => "campaign.completed",
            Self::LeadCompleted => "lead.completed",
            Self::ImportCompleted => "import.completed",
            Self::AgentOffline => "agent.offline",
            Self::EndpointDisabled => "endpoint.disabled",
        }
    }
}

/// One event of a tenant, before it is fanned out to its endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// A v7 UUID: the `webhook-id` of every delivery of it, and the delivery's id.
    pub id: uuid::Uuid,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// A tenant's receiver of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    /// https (http and loopback only in local runs); SSRF-checked when set and at each delivery.
    #[schema(example = "https://hooks.example.com/gobi")]
    pub url: String,
    /// The events it receives.
    pub event_types: Vec<EventType>,
    pub active: bool,
    pub description: Option<String>,
    /// The first characters of the signing secret, to tell secrets apart (never the secret).
    #[schema(example = "whsec_3k9Q")]
    pub secret_hint: String,
    /// When deliveries began failing with no success since.
    pub failing_since: Option<DateTime<Utc>>,
    /// Why it was disabled, when GOBI disabled it.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or its next retry.
    Pending,
    /// An attempt is under way.
    Delivering,
    Succeeded,
    /// Every retry failed (or the endpoint was disabled); `redeliver` starts again.
    Failed,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub number: u32,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status (absent when none came back).
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// The first 256 characters of the receiver's answer, or why there was none.
    pub response_snippet: String,
    pub succeeded: bool,
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The event's id (also the `webhook-id` header).
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub endpoint_id: uuid::Uuid,
    pub event_type: EventType,
    /// The endpoint's count of deliveries when this one was made: increasing, so a receiver can
    /// order what it got (a gap means a number was taken and not used, not a lost event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    pub status: DeliveryStatus,
    /// The next retry, while one is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Attempts since the last (re)delivery began: the retry schedule's position.
    #[serde(default)]
    pub round: u32,
    /// The newest attempts (at most 25), oldest first.
    pub attempts: Vec<DeliveryAttempt>,
    /// The signed JSON body, as sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Attempts kept on a delivery.
pub const MAX_ATTEMPTS_KEPT: usize = 25;
/// Endpoints a tenant may have.
pub const MAX_ENDPOINTS: usize = 20;
