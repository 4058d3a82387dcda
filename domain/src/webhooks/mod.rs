//! Webhooks to the tenant's systems, as the Standard Webhooks specification says: functions
//! emit events onto the webhook queue ([`EventSink`]); the `webhook-worker` fans each out to the
//! tenant's active endpoints that subscribe to it (one delivery per endpoint, numbered by the
//! endpoint's counter) and attempts each delivery — signed (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`, with the `standardwebhooks` crate), SSRF-checked, every attempt recorded
//! — retrying on the configured schedule with jitter through the scheduler's tick. An endpoint
//! that has failed for the configured time with no success is disabled, and the tenant's other
//! endpoints get an `endpoint.disabled` event.

pub mod delivery;
pub mod model;
pub mod store;

use chrono::{DateTime, Utc};
use gobi_shared::events::{Envelope, Publisher};
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};

pub use model::{EventType, WebhookEvent};

/// The webhook queue's messages: an event to fan out.
pub const WEBHOOK_EVENT: &str = "webhooks.event";
/// … and one delivery's attempt.
pub const WEBHOOK_DELIVERY: &str = "webhooks.deliver";

/// A delivery due for an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDue {
    pub endpoint_id: uuid::Uuid,
    pub delivery_id: uuid::Uuid,
}

/// Where functions send events for the tenant's webhooks; without a queue configured nothing
/// is sent.
#[derive(Clone, Debug, Default)]
pub struct EventSink {
    queue: Option<Publisher>,
}

impl EventSink {
    /// Whether a webhook queue is configured (without one, nothing is sent).
    pub fn is_configured(&self) -> bool {
        self.queue.is_some()
    }

    pub fn from_config(config: &gobi_shared::Config, sqs: aws_sdk_sqs::Client) -> Self {
        Self {
            queue: config
                .webhook_queue_url
                .clone()
                .map(|url| Publisher::new(sqs, url)),
        }
    }

    /// Sends `kind` with `data` for `tenant`. Best effort: the change it reports is already
    /// made, so a failure to queue is logged, not returned (see ARCHITECTURE.md).
    pub async fn emit(
        &self,
        tenant: TenantId,
        kind: EventType,
        data: serde_json::Value,
        at: DateTime<Utc>,
    ) {
        self.emit_all(tenant, [(kind, data)], at).await;
    }

    /// Sends several events of one change for `tenant` in one request (a call's status
    /// callback that both answers and ends it), best effort as [`EventSink::emit`]: each event
    /// not queued is logged.
    pub async fn emit_all(
        &self,
        tenant: TenantId,
        events: impl IntoIterator<Item = (EventType, serde_json::Value)>,
        at: DateTime<Utc>,
    ) {
        let events = events.into_iter().map(|(kind, data)| (tenant, kind, data));
        self.emit_across_tenants(events, at).await;
    }

    /// Sends events that happened together to their tenants, ten to a request whatever their
    /// tenants (the scheduler's tick that finds agents of many tenants quiet at once), best
    /// effort as [`EventSink::emit`]: each event not queued is logged.
    pub async fn emit_across_tenants(
        &self,
        events: impl IntoIterator<Item = (TenantId, EventType, serde_json::Value)>,
        at: DateTime<Utc>,
    ) {
        let Some(queue) = &self.queue else {
            return;
        };
        let envelopes: Vec<_> = events
            .into_iter()
            .map(|(tenant, kind, data)| {
                let event = WebhookEvent {
                    id: uuid::Uuid::now_v7(),
                    kind,
                    occurred_at: at,
                    data,
                };
                Envelope::new(WEBHOOK_EVENT, at, tenant, None, event)
            })
            .collect();
        for (index, e) in queue.send_all(&envelopes).await {
            let envelope = &envelopes[index];
            let event = envelope.data.kind.name();
            tracing::error!(tenant_id = %envelope.tenant_id, event, error = format!("{e:#}"), "webhook event not queued");
        }
    }
}
