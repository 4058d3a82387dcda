//! Events between functions: one JSON envelope on SQS.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CallId, TenantId};

pub const HANDOFF_REQUESTED: &str = "runtime.handoff_requested";

/// `{"type", "id", "occurred_at", "tenant_id", "call_id", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: uuid::Uuid,
    pub occurred_at: DateTime<Utc>,
    pub tenant_id: TenantId,
    pub call_id: CallId,
    pub data: T,
}

/// What the handoff worker needs to dispatch a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffRequested {
    pub call_sid: String,
    pub from: String,
    pub to: String,
    pub agent_id: Option<crate::ids::AgentId>,
    pub phone_number_id: crate::ids::PhoneNumberId,
}

/// Sends envelopes to one queue.
#[derive(Clone, Debug)]
pub struct Publisher {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Publisher {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %envelope.tenant_id, call_id = %envelope.call_id))]
    pub async fn send<T: Serialize>(&self, envelope: &Envelope<T>) -> anyhow::Result<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(serde_json::to_string(envelope)?)
            .send()
            .await?;
        Ok(())
    }
}
