//! The `dialer` worker: campaign jobs from SQS, one per message — enrolling a campaign's leads
//! a bounded number of pages at a time, and dialing one lead's attempt after every check again
//! (`gobi_domain::campaigns::dialer`). A redelivered job changes nothing twice: enrolment pages
//! commit on the campaign's round, a dial claims its attempt with a conditional write.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use gobi_domain::campaigns::dialer::{Dialed, Dialer, DialerJob};
use gobi_shared::Config;
use gobi_shared::events::Envelope;
use gobi_shared::sqs::{self, MessageError, PollReport};
use gobi_shared::time::Clock;
use lambda_runtime::LambdaEvent;

#[derive(Clone)]
pub struct WorkerState {
    pub dialer: Dialer,
    pub clock: Clock,
}

impl WorkerState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let dialer = Dialer::from_config(config, dynamodb, sqs)
            .ok_or_else(|| anyhow::anyhow!("DIALER_QUEUE_URL is not set"))?;
        Ok(Self { dialer, clock })
    }
}

/// What one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Enrolled,
    Dial(Dialed),
}

pub async fn handle_message(state: &WorkerState, body: &str) -> Result<Outcome, MessageError> {
    let envelope: Envelope<DialerJob> =
        serde_json::from_str(body).map_err(|e| MessageError::Poison(e.to_string()))?;
    let tenant = envelope.tenant_id;
    let now = state.clock.now();
    match envelope.data {
        DialerJob::Enroll { campaign_id } => {
            state
                .dialer
                .enroll(tenant, campaign_id, now)
                .await
                .map_err(MessageError::retry)?;
            Ok(Outcome::Enrolled)
        }
        DialerJob::Dial {
            campaign_id,
            phone_number,
            attempt,
        } => {
            let dialed = state
                .dialer
                .dial(tenant, campaign_id, &phone_number, attempt, now)
                .await
                .map_err(MessageError::retry)?;
            Ok(Outcome::Dial(dialed))
        }
    }
}

/// One batch of messages, each on its own (partial batch failure).
pub async fn process(state: &WorkerState, event: SqsEvent) -> SqsBatchResponse {
    sqs::process(event, "dialer", |body| async move {
        handle_message(state, &body).await
    })
    .await
}

/// The Lambda handler.
pub async fn handle(
    state: &WorkerState,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    Ok(process(state, event.payload).await)
}

/// One local round on the dialer queue, with the Lambda's handler.
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
