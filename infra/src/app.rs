//! Every function's router in one process, as API Gateway would route to them.

use std::sync::Arc;

use gobi_shared::Config;
use gobi_shared::auth::JwtVerifier;
use gobi_shared::time::Clock;
use gobi_system::SystemState;
use gobi_tenants::TenantsState;

use crate::aws_requests::{as_function, scoped};

/// The clients every function is built from.
#[derive(Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub kms: aws_sdk_kms::Client,
    pub s3: aws_sdk_s3::Client,
}

/// The routers of all functions, merged (unlayered: the caller adds the common layers once).
pub fn routes(config: &Config, clients: &Clients, clock: &Clock) -> anyhow::Result<axum::Router> {
    let verifier = Arc::new(JwtVerifier::new(&config.jwt)?);
    let system = gobi_system::router(SystemState {
        dynamodb: clients.dynamodb.clone(),
        probe_table: config.tables.tenants.clone(),
    });
    let tenants = gobi_tenants::router(TenantsState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        verifier.clone(),
    ));
    let phone_numbers = gobi_phone_numbers::router(gobi_phone_numbers::PhoneNumbersState::new(
        config,
        clients.dynamodb.clone(),
        verifier.clone(),
    ));
    let auth = gobi_auth::router(gobi_auth::AuthState::new(config, clients.dynamodb.clone())?);
    let agents = gobi_agents::router(gobi_agents::AgentsState::new(
        config,
        clients.dynamodb.clone(),
        verifier.clone(),
        clock.clone(),
    ));
    let runtime = gobi_runtime::router(gobi_runtime::RuntimeState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        verifier.clone(),
        clock.clone(),
    ));
    let twilio = gobi_twilio_webhook::router(gobi_twilio_webhook::WebhookState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        clock.clone(),
    )?);
    let automation = gobi_automation::router(gobi_automation::AutomationState::new(
        config,
        clients.dynamodb.clone(),
        clients.kms.clone(),
        verifier.clone(),
        clock.clone(),
    ));
    let client = gobi_client::router(gobi_client::ClientState::new(
        config,
        clients.dynamodb.clone(),
        verifier.clone(),
        clock.clone(),
    ));
    let lead_lists = gobi_lead_lists::router(gobi_lead_lists::LeadListsState::new(
        config,
        gobi_lead_lists::Clients {
            dynamodb: clients.dynamodb.clone(),
            sqs: clients.sqs.clone(),
            s3: clients.s3.clone(),
        },
        verifier.clone(),
        clock.clone(),
    ));
    let campaigns = gobi_campaigns::router(gobi_campaigns::CampaignsState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        verifier.clone(),
        clock.clone(),
    ));
    let webhooks = gobi_webhooks::router(gobi_webhooks::WebhooksState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        clients.kms.clone(),
        verifier.clone(),
        clock.clone(),
    ));
    // Each function's routes run as that function, so its AWS requests are checked against its
    // own policy (`aws_requests`).
    Ok(scoped("SystemFunction", system)
        .merge(scoped("WebhooksFunction", webhooks))
        .merge(scoped("ClientFunction", client))
        .merge(scoped("LeadListsFunction", lead_lists))
        .merge(scoped("CampaignsFunction", campaigns))
        .merge(scoped("AutomationFunction", automation))
        .merge(scoped("AuthFunction", auth))
        .merge(scoped("TenantsFunction", tenants))
        .merge(scoped("PhoneNumbersFunction", phone_numbers))
        .merge(scoped("AgentsFunction", agents))
        .merge(scoped("RuntimeFunction", runtime))
        .merge(scoped("TwilioWebhookFunction", twilio)))
}

/// Runs the scheduler's jobs every `every`, as EventBridge does in AWS, with the same code.
pub fn spawn_scheduler(
    config: &Config,
    clients: &Clients,
    clock: Clock,
    every: std::time::Duration,
) {
    let dialer = gobi_domain::campaigns::dialer::Dialer::from_config(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
    );
    let webhooks = gobi_domain::webhooks::delivery::Deliverer::from_config(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        None,
    );
    let state = gobi_scheduler::SchedulerState::new(config, clients.dynamodb.clone(), clock)
        .with_dialer(dialer)
        .with_webhooks(webhooks);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            if let Err(e) = as_function("SchedulerFunction", gobi_scheduler::run(&state)).await {
                tracing::error!(error = format!("{e:#}"), "scheduled run failed");
            }
        }
    });
}

/// How long a local poll waits for messages: under one SDK attempt's timeout
/// (`dynamo::ATTEMPT_TIMEOUT_SECONDS`), so an empty queue is not an error.
const LONG_POLL_SECONDS: i32 = gobi_shared::dynamo::ATTEMPT_TIMEOUT_SECONDS as i32 - 1;

/// Polls a queue for ever as `function` would be invoked by Lambda's SQS integration: each
/// round is `poll`; a round that fails is logged (`failure`) and tried again 2 s later.
fn spawn_poll_loop<F, Fut>(function: &'static str, failure: &'static str, poll: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<gobi_shared::sqs::PollReport>> + Send,
{
    tokio::spawn(async move {
        loop {
            if let Err(e) = as_function(function, poll()).await {
                tracing::error!(error = format!("{e:#}"), "{failure}");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    });
}

/// Consumes the handoff queue as Lambda's SQS integration would, with the same handler.
pub fn spawn_handoff_worker(config: &Config, clients: &Clients, clock: Clock) {
    let Some(queue_url) = config.handoff_queue_url.clone() else {
        return;
    };
    let state = gobi_handoff_worker::WorkerState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        clock,
    );
    let state = Arc::new(state);
    let sqs = clients.sqs.clone();
    spawn_poll_loop("HandoffWorkerFunction", "handoff poll failed", move || {
        let (state, sqs, queue_url) = (state.clone(), sqs.clone(), queue_url.clone());
        async move { gobi_handoff_worker::poll_once(&state, &sqs, &queue_url, LONG_POLL_SECONDS).await }
    });
}

/// Consumes the legal-hold job queue as Lambda's SQS integration would, with the same handler.
pub fn spawn_legal_hold_worker(
    config: &Config,
    clients: &Clients,
    clock: Clock,
) -> anyhow::Result<()> {
    let Some(queue_url) = config.legal_hold_queue_url.clone() else {
        return Ok(());
    };
    let state = gobi_legal_hold_worker::WorkerState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        clock,
    )?;
    let state = Arc::new(state);
    let sqs = clients.sqs.clone();
    spawn_poll_loop(
        "LegalHoldWorkerFunction",
        "legal-hold poll failed",
        move || {
            let (state, sqs, queue_url) = (state.clone(), sqs.clone(), queue_url.clone());
            async move {
                gobi_legal_hold_worker::poll_once(&state, &sqs, &queue_url, LONG_POLL_SECONDS).await
            }
        },
    );
    Ok(())
}

/// Consumes the lead-import queue as Lambda's SQS integration would, with the same handler.
pub fn spawn_lead_import_worker(
    config: &Config,
    clients: &Clients,
    clock: Clock,
) -> anyhow::Result<()> {
    let Some(queue_url) = config.lead_import_queue_url.clone() else {
        return Ok(());
    };
    let state = gobi_lead_import::WorkerState::new(
        config,
        gobi_lead_import::Clients {
            dynamodb: clients.dynamodb.clone(),
            s3: clients.s3.clone(),
            sqs: clients.sqs.clone(),
        },
        clock,
    )?;
    let state = Arc::new(state);
    let sqs = clients.sqs.clone();
    spawn_poll_loop(
        "LeadImportWorkerFunction",
        "lead-import poll failed",
        move || {
            let (state, sqs, queue_url) = (state.clone(), sqs.clone(), queue_url.clone());
            async move { gobi_lead_import::poll_once(&state, &sqs, &queue_url, LONG_POLL_SECONDS).await }
        },
    );
    Ok(())
}

/// Consumes the dialer queue as Lambda's SQS integration would, with the same handler.
pub fn spawn_dialer_worker(config: &Config, clients: &Clients, clock: Clock) -> anyhow::Result<()> {
    let Some(queue_url) = config.dialer_queue_url.clone() else {
        return Ok(());
    };
    let state = gobi_dialer::WorkerState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        clock,
    )?;
    let state = Arc::new(state);
    let sqs = clients.sqs.clone();
    spawn_poll_loop("DialerFunction", "dialer poll failed", move || {
        let (state, sqs, queue_url) = (state.clone(), sqs.clone(), queue_url.clone());
        async move { gobi_dialer::poll_once(&state, &sqs, &queue_url, LONG_POLL_SECONDS).await }
    });
    Ok(())
}

/// Consumes the webhook queue as Lambda's SQS integration would, with the same handler.
pub fn spawn_webhook_worker(config: &Config, clients: &Clients, clock: Clock) {
    let Some(queue_url) = config.webhook_queue_url.clone() else {
        return;
    };
    let state = Arc::new(gobi_webhook_worker::WorkerState::new(
        config,
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        clients.kms.clone(),
        clock,
    ));
    let sqs = clients.sqs.clone();
    spawn_poll_loop("WebhookWorkerFunction", "webhook poll failed", move || {
        let (state, sqs, queue_url) = (state.clone(), sqs.clone(), queue_url.clone());
        async move { gobi_webhook_worker::poll_once(&state, &sqs, &queue_url, LONG_POLL_SECONDS).await }
    });
}
