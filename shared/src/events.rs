//! Events between functions: one JSON envelope on SQS.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CallId, TenantId};

pub const HANDOFF_REQUESTED: &str = "runtime.handoff_requested";
/// A batch of a tenant legal-hold job is due (the job's cursor is on the tenant).
pub const LEGAL_HOLD_JOB: &str = "tenant.legal_hold_job";
/// An import of a lead or do-not-call file is queued (`data`: the list, if any, and the import).
pub const LEAD_IMPORT_QUEUED: &str = "leads.import_queued";
/// A lead list was marked deleted; its items go a round at a time (`data`: the list).
pub const LEAD_LIST_DELETING: &str = "leads.list_deleting";

/// `{"type", "id", "occurred_at", "tenant_id", "call_id", "data"}`; `call_id` only on events
/// about one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: uuid::Uuid,
    pub occurred_at: DateTime<Utc>,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CallId>,
    pub data: T,
}

impl<T> Envelope<T> {
    /// A new event of `kind` with a fresh id.
    pub fn new(
        kind: &str,
        occurred_at: DateTime<Utc>,
        tenant_id: TenantId,
        call_id: Option<CallId>,
        data: T,
    ) -> Self {
        Self {
            kind: kind.to_owned(),
            id: uuid::Uuid::now_v7(),
            occurred_at,
            tenant_id,
            call_id,
            data,
        }
    }
}

/// The job a [`LEGAL_HOLD_JOB`] event continues, and how far it had come when the event was
/// sent: a duplicate finds the job further along and stops, instead of starting a second chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegalHoldJobDue {
    pub job_id: uuid::Uuid,
    pub calls_done: u64,
}

/// What the handoff worker needs to dispatch a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffRequested {
    pub call_sid: String,
    pub from: String,
    pub to: String,
    pub agent_id: Option<crate::ids::AgentId>,
    /// The tenant's number the call came in on or went out from (absent when no number record
    /// of the tenant's has it any more).
    #[serde(default)]
    pub phone_number_id: Option<crate::ids::PhoneNumberId>,
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

    /// Opens the connection to the queue during a function's init, where a caller waits on the
    /// first send: one `GetQueueAttributes` (the queue's ARN). A failure is logged and changes
    /// nothing: the first send connects as it would have.
    pub async fn warm(&self) {
        let read = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send();
        crate::dynamo::warm_with("SQS", read).await;
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %envelope.tenant_id, call_id = ?envelope.call_id))]
    pub async fn send<T: Serialize>(&self, envelope: &Envelope<T>) -> anyhow::Result<()> {
        self.send_after(envelope, 0).await
    }

    /// Sends `envelope`, delivered no sooner than `seconds` from now (SQS allows up to 900).
    pub async fn send_after<T: Serialize>(
        &self,
        envelope: &Envelope<T>,
        seconds: u32,
    ) -> anyhow::Result<()> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(serde_json::to_string(envelope)?);
        if seconds > 0 {
            request = request.delay_seconds(i32::try_from(seconds.min(900)).unwrap_or(900));
        }
        request.send().await?;
        Ok(())
    }

    /// Sends `envelopes` in as few requests as SQS allows: one `SendMessage` for one, else a
    /// `SendMessageBatch` per ten (SQS's most per batch). SQS may refuse some entries of a batch
    /// and queue the rest; what comes back is each envelope not queued (its index in
    /// `envelopes`) with why, empty when all were.
    pub async fn send_all<T: Serialize>(
        &self,
        envelopes: &[Envelope<T>],
    ) -> Vec<(usize, anyhow::Error)> {
        if let [one] = envelopes {
            return self
                .send(one)
                .await
                .err()
                .map(|e| (0, e))
                .into_iter()
                .collect();
        }
        let mut unsent = Vec::new();
        for (batch, chunk) in envelopes.chunks(SQS_BATCH_MAX).enumerate() {
            let first = batch * SQS_BATCH_MAX;
            let mut entries = Vec::with_capacity(chunk.len());
            let mut ids = Vec::with_capacity(chunk.len());
            for (index, envelope) in (first..).zip(chunk) {
                let entry = serde_json::to_string(envelope)
                    .map_err(anyhow::Error::new)
                    .and_then(|body| {
                        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                            .id(index.to_string())
                            .message_body(body)
                            .build()
                            .map_err(anyhow::Error::new)
                    });
                match entry {
                    Ok(entry) => {
                        entries.push(entry);
                        ids.push(index);
                    }
                    Err(e) => unsent.push((index, e)),
                }
            }
            if entries.is_empty() {
                continue;
            }
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
            match sent {
                Ok(output) => unsent.extend(output.failed().iter().filter_map(|failure| {
                    let index = failure.id().parse().ok()?;
                    Some((
                        index,
                        anyhow::anyhow!(
                            "SQS refused the message: {} ({})",
                            failure.code(),
                            failure.message().unwrap_or("no message")
                        ),
                    ))
                })),
                Err(e) => {
                    let why = format!("{:#}", anyhow::Error::new(e));
                    unsent.extend(ids.into_iter().map(|i| (i, anyhow::anyhow!("{why}"))));
                }
            }
        }
        unsent.sort_by_key(|(index, _)| *index);
        unsent
    }
}

/// The most messages one `SendMessageBatch` carries.
const SQS_BATCH_MAX: usize = 10;
