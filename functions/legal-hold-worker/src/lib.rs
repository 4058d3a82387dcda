//! The `legal-hold-worker` function: runs tenant legal-hold jobs from SQS. Each message is one
//! batch: the worker reads the job and its cursor from the tenant, brings that page of calls in
//! line with the hold (every item of each call gets its expiry, or loses it), records the batch
//! conditionally on the job being unchanged, and queues the next batch. Each message names how
//! far the job had come: a redelivered or duplicated one finds it further along and stops, so it
//! repeats at most one batch's idempotent writes, counts nothing twice and never forks the chain;
//! a message of a job that a newer hold change replaced does nothing.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gobi_domain::calls::{CallFilter, CallStore};
use gobi_domain::tenants::model::HoldJobState;
use gobi_domain::tenants::store::TenantStore;
use gobi_shared::Config;
use gobi_shared::events::{Envelope, LEGAL_HOLD_JOB, LegalHoldJobDue, Publisher};
use gobi_shared::sqs::{self, MessageError, PollReport};
use gobi_shared::time::Clock;
use lambda_runtime::LambdaEvent;

/// Calls per batch: each costs a few writes, so a batch stays well inside the timeout.
pub const BATCH: usize = 100;

#[derive(Clone)]
pub struct WorkerState {
    pub tenants: TenantStore,
    pub calls: CallStore,
    /// The job queue, for the next batch.
    pub jobs: Publisher,
    pub clock: Clock,
}

impl WorkerState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let queue = config
            .legal_hold_queue_url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("configuration: LEGAL_HOLD_QUEUE_URL: is not set"))?;
        Ok(Self {
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            calls: CallStore::new(dynamodb, &config.tables.calls),
            jobs: Publisher::new(sqs, queue),
            clock,
        })
    }
}

/// What one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// This many calls brought in line; `more` when another batch was queued.
    Done { calls: usize, more: bool },
    /// The job is finished, replaced, or this batch was recorded by another delivery.
    Skipped,
}

/// Runs one batch of the job a message names.
#[tracing::instrument(skip_all)]
pub async fn handle_message(state: &WorkerState, body: &str) -> Result<Batch, MessageError> {
    let envelope: Envelope<LegalHoldJobDue> = serde_json::from_str(body)
        .map_err(|e| MessageError::Poison(format!("not a legal-hold job envelope: {e}")))?;
    if envelope.kind != LEGAL_HOLD_JOB {
        return Err(MessageError::Poison(format!(
            "unexpected event type {}",
            envelope.kind
        )));
    }
    let tenant_id = envelope.tenant_id;
    let Some(tenant) = state
        .tenants
        .get(tenant_id)
        .await
        .map_err(MessageError::retry)?
    else {
        return Ok(Batch::Skipped);
    };
    let Some(job) = tenant
        .hold_job
        .filter(|job| job.id == envelope.data.job_id && job.state == HoldJobState::Running)
    else {
        return Ok(Batch::Skipped);
    };
    let (calls, next) = state
        .calls
        .page(
            tenant_id,
            &CallFilter::default(),
            BATCH,
            job.cursor.as_deref(),
        )
        .await
        .map_err(MessageError::retry)?;
    for call in &calls {
        state
            .calls
            .apply_expiry(tenant_id, call, job.holding)
            .await
            .map_err(MessageError::retry)?;
    }
    let more = next.is_some();
    let recorded = state
        .tenants
        .advance_hold_job(tenant_id, &job, calls.len() as u64, next, state.clock.now())
        .await
        .map_err(MessageError::retry)?;
    if recorded.is_none() {
        return Ok(Batch::Skipped);
    }
    if more {
        let due = Envelope::new(
            LEGAL_HOLD_JOB,
            state.clock.now(),
            tenant_id,
            None,
            LegalHoldJobDue {
                job_id: job.id,
                calls_done: job.calls_done + calls.len() as u64,
            },
        );
        // Failing here retries this message: it finds the recorded cursor and goes on from it.
        state
            .jobs
            .send(&due)
            .await
            .map_err(MessageError::Retryable)?;
    }
    tracing::info!(tenant_id = %tenant_id, job_id = %job.id, calls = calls.len(), more, "legal-hold batch");
    Ok(Batch::Done {
        calls: calls.len(),
        more,
    })
}

/// One batch of messages, each on its own (partial batch failure).
pub async fn process(state: &WorkerState, event: SqsEvent) -> SqsBatchResponse {
    sqs::process(event, "legal-hold", |body| async move {
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

/// One local round on the legal-hold queue, with the Lambda's handler.
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
