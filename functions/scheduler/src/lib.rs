//! The `scheduler` function: the work EventBridge triggers every minute. Today: persisting
//! online → offline for agents whose heartbeat expired. The local server calls the same
//! [`run`] on an interval.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use gobi_agents::store::{AgentStore, SweepReport};
use gobi_shared::Config;
use gobi_shared::time::Clock;
use lambda_runtime::LambdaEvent;
use serde::Serialize;

#[derive(Clone)]
pub struct SchedulerState {
    pub agents: AgentStore,
    pub clock: Clock,
}

impl SchedulerState {
    pub fn new(config: &Config, dynamodb: aws_sdk_dynamodb::Client, clock: Clock) -> Self {
        Self {
            agents: AgentStore::new(dynamodb, &config.tables.agents),
            clock,
        }
    }
}

/// What one run did; returned to Lambda and logged.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SchedulerReport {
    pub heartbeats: SweepReport,
}

/// One run of every scheduled job.
pub async fn run(state: &SchedulerState) -> anyhow::Result<SchedulerReport> {
    let heartbeats = state
        .agents
        .sweep(state.clock.now())
        .await
        .map_err(|e| anyhow::anyhow!("heartbeat sweep: {e}"))?;
    if heartbeats.examined > 0 {
        tracing::info!(?heartbeats, "heartbeat sweep");
    }
    Ok(SchedulerReport { heartbeats })
}

/// The Lambda handler: an EventBridge scheduled event in, the report out. Errors are returned
/// to Lambda so the invocation is retried and shows in the function's error metrics.
pub async fn handle(
    state: &SchedulerState,
    event: LambdaEvent<EventBridgeEvent>,
) -> Result<SchedulerReport, lambda_runtime::Error> {
    tracing::debug!(detail_type = %event.payload.detail_type, source = %event.payload.source, "scheduled event");
    Ok(run(state).await?)
}
