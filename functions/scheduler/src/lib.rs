//! The `scheduler` function: the work EventBridge triggers every minute: persisting online →
//! offline for agents whose heartbeat expired, expiring runtime dispatches nobody claimed (the
//! second seed's `expire_runtime_dispatches` job), and the campaign tick (due leads queued for
//! the dialer, lost jobs queued again, expired leases taken back). The local server calls the
//! same [`run`] on an interval.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use gobi_domain::agents::store::{AgentStore, SweepReport};
use gobi_domain::calls::CallStore;
use gobi_domain::campaigns::dialer::{Dialer, TickReport};
use gobi_shared::Config;
use gobi_shared::time::Clock;
use lambda_runtime::LambdaEvent;
use serde::Serialize;

#[derive(Clone)]
pub struct SchedulerState {
    pub agents: AgentStore,
    pub calls: CallStore,
    /// The campaign tick's dialer, when a dialer queue is configured.
    pub dialer: Option<Dialer>,
    pub clock: Clock,
}

impl SchedulerState {
    pub fn new(config: &Config, dynamodb: aws_sdk_dynamodb::Client, clock: Clock) -> Self {
        Self {
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            calls: CallStore::new(dynamodb, &config.tables.calls),
            dialer: None,
            clock,
        }
    }

    /// The same, with the campaign tick.
    pub fn with_dialer(self, dialer: Option<Dialer>) -> Self {
        Self { dialer, ..self }
    }
}

/// What one run did; returned to Lambda and logged.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SchedulerReport {
    pub heartbeats: SweepReport,
    /// Pending dispatches expired (their tokens scrubbed) in this run.
    pub dispatches_expired: u32,
    pub campaigns: TickReport,
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
    let now = state.clock.now();
    let mut dispatches_expired = 0;
    for (tenant, dispatch) in state
        .calls
        .expired_dispatches(now)
        .await
        .map_err(|e| anyhow::anyhow!("dispatch expiry: {e}"))?
    {
        if state
            .calls
            .expire(tenant, dispatch, now)
            .await
            .map_err(|e| anyhow::anyhow!("expiring {dispatch}: {e}"))?
        {
            dispatches_expired += 1;
        }
    }
    if dispatches_expired > 0 {
        tracing::info!(dispatches_expired, "dispatch expiry");
    }
    let mut campaigns = TickReport::default();
    if let Some(dialer) = &state.dialer {
        campaigns = dialer
            .tick(state.clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("campaign tick: {e}"))?;
        if campaigns.campaigns > 0 {
            tracing::info!(?campaigns, "campaign tick");
        }
    }
    Ok(SchedulerReport {
        heartbeats,
        dispatches_expired,
        campaigns,
    })
}

/// The Lambda handler: an EventBridge scheduled event in, the report out. Errors are returned
/// to Lambda so the invocation is retried and shows in the function's error metrics.
pub async fn handle(
    state: &SchedulerState,
    event: LambdaEvent<EventBridgeEvent>,
) -> Result<SchedulerReport, lambda_runtime::Error> {
    tracing::debug!(detail_type = %event.payload.detail_type, source = %event.payload.source, "scheduled event");
    // Boxed: the run's future nests every job's store calls, and inline in `main`'s future its
    // layout passes the compiler's query-depth limit (`queries overflow the depth limit`).
    Ok(Box::pin(run(state)).await?)
}
