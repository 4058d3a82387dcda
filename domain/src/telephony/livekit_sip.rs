//! Outbound calls through a LiveKit SIP outbound trunk: `CreateSIPParticipant` (`livekit-api`)
//! dials the number from the trunk and puts the callee in a room, where the agent dispatched
//! to it waits. LiveKit's SIP service reports no final status to GOBI: the voice runtime in the
//! room reports how the call ended.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gobi_shared::config::LiveKitConfig;
use livekit_api::services::sip::{CreateSIPParticipantOptions, SIPClient};
use secrecy::ExposeSecret;

/// How long the callee's phone rings before LiveKit gives up.
const RING_SECONDS: u64 = 30;

/// LiveKit's SIP service with the outbound trunk calls are placed from.
#[derive(Clone)]
pub struct SipDialer {
    client: Arc<SIPClient>,
    trunk_id: String,
}

impl std::fmt::Debug for SipDialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipDialer")
            .field("trunk_id", &self.trunk_id)
            .finish_non_exhaustive()
    }
}

/// One call to place.
#[derive(Debug)]
pub struct SipCall<'a> {
    /// E.164 to dial.
    pub to: &'a str,
    /// E.164 the callee sees (one of the tenant's numbers on the trunk).
    pub from: &'a str,
    /// The room the callee joins.
    pub room: &'a str,
    /// The callee's identity in the room.
    pub identity: &'a str,
    /// Attributes the callee's participant carries (the runtime reads them).
    pub attributes: HashMap<String, String>,
}

impl SipDialer {
    /// `None` unless LiveKit (URL, key, secret) and an outbound trunk are all configured.
    pub fn from_config(config: &LiveKitConfig) -> Option<Self> {
        let trunk_id = config.sip_outbound_trunk_id.clone()?;
        let client = SIPClient::with_api_key(
            config.url.as_ref()?.as_str(),
            config.api_key.as_deref()?,
            config.api_secret.as_ref()?.expose_secret(),
        )
        .with_failover(false)
        .with_request_timeout(Duration::from_secs(10));
        Some(Self {
            client: Arc::new(client),
            trunk_id,
        })
    }

    /// Dials `call.to` without waiting for an answer; LiveKit's SIP call id, or why it refused.
    pub async fn place_call(&self, call: &SipCall<'_>) -> Result<String, String> {
        let placed = self
            .client
            .create_sip_participant(
                self.trunk_id.clone(),
                call.to.to_owned(),
                call.room.to_owned(),
                CreateSIPParticipantOptions {
                    participant_identity: call.identity.to_owned(),
                    participant_attributes: Some(call.attributes.clone()),
                    sip_number: Some(call.from.to_owned()),
                    wait_until_answered: Some(false),
                    ringing_timeout: Some(Duration::from_secs(RING_SECONDS)),
                    ..Default::default()
                },
                None,
            )
            .await
            .map_err(|e| format!("LiveKit refused the call: {e}"))?;
        Ok(placed.sip_call_id)
    }
}
