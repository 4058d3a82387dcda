//! How every SQS worker runs a batch: each message handled on its own, the failed ones reported
//! by message id (partial batch failure), so SQS redelivers only them and a message that keeps
//! failing reaches the dead-letter queue after the receive limit. Locally, [`poll_once`] does
//! what Lambda's SQS integration does, with the same handler.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// Why a message failed. Both kinds are reported as failures: a retryable one may pass on
/// redelivery, a poison one will reach the dead-letter queue after the receive limit.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("poison message: {0}")]
    Poison(String),
    #[error("retryable: {0:#}")]
    Retryable(anyhow::Error),
}

impl MessageError {
    /// A store's failure: worth another delivery.
    pub fn retry(error: impl std::fmt::Display) -> Self {
        Self::Retryable(anyhow::anyhow!("{error}"))
    }
}

/// One batch: every message's body handled by `handle`, the failed ones reported by id.
pub async fn process<T, F, Fut>(event: SqsEvent, worker: &str, handle: F) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, MessageError>>,
{
    let mut failures = Vec::new();
    for message in event.records {
        let outcome = match message.body.clone() {
            Some(body) => handle(body).await.map(|_| ()),
            None => Err(MessageError::Poison("empty message".into())),
        };
        if let Err(failure) = outcome {
            tracing::error!(worker, message_id = ?message.message_id, error = %failure, "message failed");
            let mut item = BatchItemFailure::default();
            item.item_identifier = message.message_id.clone().unwrap_or_default();
            failures.push(item);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// What the local poller did in one round.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollReport {
    pub received: usize,
    pub failed: usize,
}

/// Receives a batch, runs `handle_batch` on it as Lambda would, and deletes the messages that
/// did not fail (failed ones become visible again after the visibility timeout).
pub async fn poll_once<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
    handle_batch: F,
) -> anyhow::Result<PollReport>
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let output = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
        )
        .send()
        .await?;
    let messages = output.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(PollReport::default());
    }
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.event_source = Some("aws:sqs".into());
            record
        })
        .collect();
    let response = handle_batch(event).await;
    let failed: std::collections::HashSet<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for message in &messages {
        if !failed.contains(message.message_id.as_deref().unwrap_or_default())
            && let Some(handle) = &message.receipt_handle
        {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await?;
        }
    }
    Ok(PollReport {
        received: messages.len(),
        failed: failed.len(),
    })
}
