//! The `webhook-worker`: the webhook queue's messages, one at a time — an event fanned out to
//! the tenant's endpoints (a delivery each, numbered, queued), or one delivery's attempt
//! (claimed, signed, posted, recorded, retried on the schedule through the scheduler's tick).
//! A redelivered message changes nothing twice: a delivery is keyed by its event, an attempt
//! needs a claim.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use gobi_domain::webhooks::delivery::{Attempted, Deliverer};
use gobi_domain::webhooks::{DeliveryDue, WEBHOOK_DELIVERY, WEBHOOK_EVENT, WebhookEvent};
use gobi_shared::Config;
use gobi_shared::events::Envelope;
use gobi_shared::sqs::{self, MessageError, PollReport};
use gobi_shared::time::Clock;
use lambda_runtime::LambdaEvent;

#[derive(Clone)]
pub struct WorkerState {
    pub deliverer: Deliverer,
    pub clock: Clock,
}

impl WorkerState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        kms: aws_sdk_kms::Client,
        clock: Clock,
    ) -> Self {
        Self {
            deliverer: Deliverer::from_config(config, dynamodb, sqs, Some(kms)),
            clock,
        }
    }
}

/// What one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Deliveries made for the event's endpoints.
    FannedOut(usize),
    Attempted(Attempted),
}

pub async fn handle_message(state: &WorkerState, body: &str) -> Result<Outcome, MessageError> {
    let envelope: Envelope<serde_json::Value> =
        serde_json::from_str(body).map_err(|e| MessageError::Poison(e.to_string()))?;
    let tenant = envelope.tenant_id;
    let poison = |e: serde_json::Error| MessageError::Poison(e.to_string());
    match envelope.kind.as_str() {
        WEBHOOK_EVENT => {
            let event: WebhookEvent = serde_json::from_value(envelope.data).map_err(poison)?;
            let made = state
                .deliverer
                .fan_out(tenant, &event)
                .await
                .map_err(MessageError::retry)?;
            Ok(Outcome::FannedOut(made))
        }
        WEBHOOK_DELIVERY => {
            let due: DeliveryDue = serde_json::from_value(envelope.data).map_err(poison)?;
            let attempted = state
                .deliverer
                .attempt(tenant, due, state.clock.now())
                .await
                .map_err(MessageError::Retryable)?;
            Ok(Outcome::Attempted(attempted))
        }
        other => Err(MessageError::Poison(format!("unexpected message {other}"))),
    }
}

/// One batch of messages, each on its own (partial batch failure).
pub async fn process(state: &WorkerState, event: SqsEvent) -> SqsBatchResponse {
    sqs::process(event, "webhook", |body| async move {
        handle_message(state, &body).await
    })
    .await
}

/// The Lambda handler.
pub async fn handle(
    state: &WorkerState,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    // Boxed: inline, the attempt's nested futures pass rustc's query-depth limit in `main`.
    Ok(Box::pin(process(state, event.payload)).await)
}

/// One local round on the webhook queue, with the Lambda's handler.
pub async fn poll_once(
    state: &WorkerState,
    queue: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
) -> anyhow::Result<PollReport> {
    sqs::poll_once(queue, queue_url, wait_seconds, |event| {
        process(state, event)
    })
    .await
}
