//! The `scheduler` function: the work EventBridge triggers every minute: persisting online →
//! offline for agents whose heartbeat expired, expiring runtime dispatches nobody claimed (the
//! second seed's `expire_runtime_dispatches` job), and the campaign tick (due leads queued for
//! the dialer, lost jobs queued again, expired leases taken back), and webhook deliveries whose
//! retry fell due. The local server calls the same [`run`] on an interval.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use gobi_domain::agents::store::{AgentStore, SweepReport};
use gobi_domain::calls::CallStore;
use gobi_domain::campaigns::dialer::{Dialer, TickReport};
use gobi_domain::webhooks::delivery::Deliverer;
use gobi_domain::webhooks::{EventSink, EventType};
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
    /// Webhook deliveries due again, when a webhook queue is configured.
    pub webhooks: Option<Deliverer>,
    /// The tenant's webhooks: `agent.offline`.
    pub events: EventSink,
    pub clock: Clock,
}

impl SchedulerState {
    pub fn new(config: &Config, dynamodb: aws_sdk_dynamodb::Client, clock: Clock) -> Self {
        Self {
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            calls: CallStore::new(dynamodb, &config.tables.calls),
            dialer: None,
            webhooks: None,
            events: EventSink::default(),
            clock,
        }
    }

    /// The same, with the campaign tick.
    pub fn with_dialer(self, dialer: Option<Dialer>) -> Self {
        Self { dialer, ..self }
    }

    /// The same, with webhook retries (only with a webhook queue to put them on).
    pub fn with_webhooks(self, webhooks: Deliverer) -> Self {
        Self {
            events: webhooks.events.clone(),
            webhooks: webhooks.events.is_configured().then_some(webhooks),
            ..self
        }
    }
}

/// What one run did; returned to Lambda and logged.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SchedulerReport {
    pub heartbeats: SweepReport,
    /// Pending dispatches expired (their tokens scrubbed) in this run.
    pub dispatches_expired: u32,
    pub campaigns: TickReport,
    /// Webhook deliveries queued for their retry (or a lapsed attempt).
    pub webhook_retries: usize,
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
    // Agents that went quiet together are told ten to a request, whatever their tenants.
    let offline = heartbeats.went_offline.iter().map(|(tenant, agent)| {
        let data = serde_json::json!({ "agentId": agent, "status": "offline" });
        (*tenant, EventType::AgentOffline, data)
    });
    state
        .events
        .emit_across_tenants(offline, state.clock.now())
        .await;
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
    let mut webhook_retries = 0;
    if let Some(webhooks) = &state.webhooks {
        webhook_retries = webhooks
            .requeue_due(state.clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("webhook retries: {e}"))?;
        if webhook_retries > 0 {
            tracing::info!(webhook_retries, "webhook retries queued");
        }
    }
    Ok(SchedulerReport {
        heartbeats,
        dispatches_expired,
        campaigns,
        webhook_retries,
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
