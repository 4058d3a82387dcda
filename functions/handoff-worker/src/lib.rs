//! The `handoff-worker` function: consumes `runtime.handoff_requested` from SQS. For each call it
//! creates the one runtime dispatch (room, join token, expiry) and, with LiveKit configured, asks
//! LiveKit to dispatch the agent into the room. Failed messages are reported one by one, so SQS
//! retries only them and moves a message that keeps failing to the dead-letter queue.

use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gobi_domain::agents::store::AgentStore;
use gobi_domain::calls::{CallStore, Dispatch, DispatchStatus, call_not_found};
use gobi_domain::campaigns::context;
use gobi_domain::campaigns::store::CampaignStore;
use gobi_domain::leads::store::LeadStore;
use gobi_domain::webhooks::EventType;
use gobi_shared::Config;
use gobi_shared::events::{Envelope, HANDOFF_REQUESTED, HandoffRequested};
use gobi_shared::ids::DispatchId;
use gobi_shared::sqs::{self, MessageError, PollReport};
use gobi_shared::time::Clock;
use lambda_runtime::LambdaEvent;
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_api::services::agent_dispatch::AgentDispatchClient;
use livekit_protocol as proto;
use secrecy::{ExposeSecret, SecretString};

/// LiveKit credentials, for join tokens and agent dispatches.
#[derive(Clone)]
pub struct LiveKit {
    pub url: Option<String>,
    pub api_key: String,
    pub api_secret: SecretString,
    pub agent_name: String,
}

#[derive(Clone)]
pub struct WorkerState {
    pub calls: CallStore,
    pub agents: AgentStore,
    /// A campaign's call: its campaign and lead, for the agent.
    pub campaigns: CampaignStore,
    pub leads: LeadStore,
    pub livekit: Option<LiveKit>,
    pub dispatch_ttl: chrono::Duration,
    /// The tenant's webhooks: `call.started`, once the call's dispatch exists.
    pub events: gobi_domain::webhooks::EventSink,
    pub clock: Clock,
}

impl WorkerState {
    pub fn new(
        config: &Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        clock: Clock,
    ) -> Self {
        let livekit = match (&config.livekit.api_key, &config.livekit.api_secret) {
            (Some(key), Some(secret)) => Some(LiveKit {
                url: config
                    .livekit
                    .url
                    .as_ref()
                    .map(|u| u.as_str().trim_end_matches('/').to_owned()),
                api_key: key.clone(),
                api_secret: secret.clone(),
                agent_name: config.livekit.agent_name.clone(),
            }),
            _ => None,
        };
        Self {
            calls: CallStore::new(dynamodb.clone(), &config.tables.calls),
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            campaigns: CampaignStore::new(dynamodb.clone(), &config.tables.campaigns),
            leads: LeadStore::new(dynamodb, &config.tables.leads),
            livekit,
            dispatch_ttl: chrono::Duration::seconds(config.dispatch_ttl_seconds),
            events: gobi_domain::webhooks::EventSink::from_config(config, sqs),
            clock,
        }
    }
}

/// Handles one message's body.
#[tracing::instrument(skip_all)]
pub async fn handle_message(state: &WorkerState, body: &str) -> Result<Dispatch, MessageError> {
    let envelope: Envelope<HandoffRequested> = serde_json::from_str(body)
        .map_err(|e| MessageError::Poison(format!("not a handoff envelope: {e}")))?;
    if envelope.kind != HANDOFF_REQUESTED {
        return Err(MessageError::Poison(format!(
            "unexpected event type {}",
            envelope.kind
        )));
    }
    let retry = MessageError::retry;
    let call_id = envelope
        .call_id
        .ok_or_else(|| MessageError::Poison("a handoff names its call".into()))?;
    let call = state
        .calls
        .get(envelope.tenant_id, call_id)
        .await
        .map_err(retry)?
        .ok_or_else(|| MessageError::Poison(call_not_found(call_id).to_string()))?;
    // The version was chosen when the call opened; an older call's is chosen here.
    let agent = match (call.agent_version_id, call.agent_id) {
        (None, Some(agent)) => state
            .agents
            .get(call.tenant_id, agent)
            .await
            .map_err(retry)?,
        _ => None,
    };
    let campaign = context::for_call(&state.campaigns, &state.leads, &call)
        .await
        .map_err(retry)?;
    let now = state.clock.now();
    let id = DispatchId::new();
    let room_name = call.room_name();
    let join_token = match &state.livekit {
        Some(livekit) => Some(
            AccessToken::with_api_key(&livekit.api_key, livekit.api_secret.expose_secret())
                .with_identity(&format!("gobi-runtime-{id}"))
                .with_name("GOBI voice agent")
                .with_grants(VideoGrants {
                    room_join: true,
                    room: room_name.clone(),
                    ..Default::default()
                })
                .with_ttl(Duration::from_secs(
                    u64::try_from(state.dispatch_ttl.num_seconds()).unwrap_or(120) + 4 * 3600,
                ))
                .to_jwt()
                .map_err(|e| {
                    MessageError::Retryable(anyhow::anyhow!("minting a join token: {e}"))
                })?,
        ),
        None => None,
    };
    let wanted = Dispatch {
        id,
        tenant_id: call.tenant_id,
        call_id: call.id,
        agent_id: call.agent_id,
        // The call's, else a campaign's pinned version (or its split's pick for the lead), else
        // the agent's active one.
        agent_version_id: call.agent_version_id.or_else(|| {
            campaign
                .as_ref()
                .and_then(|(c, context)| c.version_for(&context.lead_id))
                .or_else(|| agent.as_ref().and_then(|a| a.active_version_id))
        }),
        room_name,
        join_token,
        status: DispatchStatus::Pending,
        expires_at: now + state.dispatch_ttl,
        created_at: now,
        claimed_at: None,
        claimed_by: None,
        livekit_dispatch_id: None,
        campaign: campaign.map(|(_, context)| context),
    };
    let (dispatch, created) = state
        .calls
        .create_dispatch(&wanted, &call.call_sid)
        .await
        .map_err(retry)?;
    tracing::info!(tenant_id = %dispatch.tenant_id, call_id = %dispatch.call_id, dispatch_id = %dispatch.id, created, "dispatch");
    if created {
        // The webhook that opened the call leaves this to the worker: its answer waits on
        // nothing but the call's record and the handoff's send.
        state
            .events
            .emit(
                call.tenant_id,
                EventType::CallStarted,
                call.event_data(),
                call.started_at,
            )
            .await;
    }

    // Ask LiveKit once per dispatch; a redelivery after a failure here asks again.
    if let (Some(livekit), None) = (&state.livekit, &dispatch.livekit_dispatch_id)
        && let Some(url) = &livekit.url
    {
        let metadata = serde_json::json!({
            "dispatch_id": dispatch.id,
            "call_id": dispatch.call_id,
            "tenant_id": dispatch.tenant_id,
            "agent_id": dispatch.agent_id,
            "agent_version_id": dispatch.agent_version_id,
            "campaign": dispatch.campaign,
        });
        let client = AgentDispatchClient::with_api_key(
            url,
            &livekit.api_key,
            livekit.api_secret.expose_secret(),
        )
        .with_failover(false);
        let created = client
            .create_dispatch(proto::CreateAgentDispatchRequest {
                agent_name: livekit.agent_name.clone(),
                room: dispatch.room_name.clone(),
                metadata: metadata.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|e| MessageError::Retryable(anyhow::anyhow!("LiveKit agent dispatch: {e}")))?;
        state
            .calls
            .set_livekit_dispatch(&dispatch, &created.id)
            .await
            .map_err(retry)?;
        let mut dispatch = dispatch;
        dispatch.livekit_dispatch_id = Some(created.id);
        return Ok(dispatch);
    }
    Ok(dispatch)
}

/// One batch, each message on its own (partial batch failure).
pub async fn process(state: &WorkerState, event: SqsEvent) -> SqsBatchResponse {
    sqs::process(event, "handoff", |body| async move {
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

/// One local round on the handoff queue, with the Lambda's handler.
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
