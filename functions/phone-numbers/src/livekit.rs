//! LiveKit SIP provisioning through `livekit-api`: an inbound trunk per number, and a dispatch
//! rule that puts each caller in a new room with the tenant's agent dispatched into it.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
pub use gobi_domain::phone_numbers::model::SipRoute;
use gobi_shared::config::{LiveKitConfig, SipAuth};
use gobi_shared::error::ApiError;
use gobi_shared::ids::{AgentId, E164, PhoneNumberId, TenantId};
use livekit_api::services::ServiceError;
use livekit_api::services::sip::{
    CreateSIPDispatchRuleOptions, CreateSIPInboundTrunkOptions, SIPClient,
};
use livekit_protocol as proto;
use secrecy::ExposeSecret;

/// Who a number's calls go to.
#[derive(Debug, Clone, Copy)]
pub struct CallTarget<'a> {
    pub tenant_id: TenantId,
    pub phone_number_id: PhoneNumberId,
    pub e164: &'a E164,
    pub agent_id: Option<AgentId>,
}

impl CallTarget<'_> {
    fn attributes(&self) -> HashMap<String, String> {
        let mut attributes = HashMap::from([
            ("gobi.tenant_id".to_owned(), self.tenant_id.to_string()),
            (
                "gobi.phone_number_id".to_owned(),
                self.phone_number_id.to_string(),
            ),
        ]);
        if let Some(agent) = self.agent_id {
            attributes.insert("gobi.agent_id".to_owned(), agent.to_string());
        }
        attributes
    }
}

pub struct SipProvisioner {
    client: SIPClient,
    agent_name: String,
    /// Credentials every trunk requires of the INVITEs it accepts.
    auth: Option<SipAuth>,
    /// Addresses every trunk accepts INVITEs from.
    allowed_addresses: Vec<String>,
}

impl std::fmt::Debug for SipProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipProvisioner")
            .field("agent_name", &self.agent_name)
            .finish_non_exhaustive()
    }
}

fn livekit_error(action: &str, error: ServiceError) -> ApiError {
    tracing::warn!(error = %error, action, "LiveKit call failed");
    ApiError::Dependency {
        status: StatusCode::BAD_GATEWAY,
        code: "LIVEKIT_PROVISIONING_FAILED",
        message: format!("LiveKit could not {action}"),
        details: None,
        twilio_code: None,
    }
}

impl SipProvisioner {
    /// `None` when LiveKit is not configured (URL, key and secret are all needed).
    pub fn from_config(config: &LiveKitConfig) -> Option<Self> {
        let url = config.url.as_ref()?;
        let client = SIPClient::with_api_key(
            url.as_str(),
            config.api_key.as_deref()?,
            config.api_secret.as_ref()?.expose_secret(),
        )
        .with_failover(false)
        .with_request_timeout(Duration::from_secs(10));
        Some(Self {
            client,
            agent_name: config.agent_name.clone(),
            auth: config.sip_auth.clone(),
            allowed_addresses: config.sip_allowed_addresses.clone(),
        })
    }

    /// Creates the trunk and the rule; if the rule fails, the trunk is removed again.
    /// A trunk open to anyone who knows the number is refused: credentials or an address list
    /// must be configured.
    #[tracing::instrument(skip_all, fields(tenant_id = %target.tenant_id))]
    pub async fn provision(&self, target: CallTarget<'_>) -> Result<SipRoute, ApiError> {
        if self.auth.is_none() && self.allowed_addresses.is_empty() {
            return Err(ApiError::Unavailable {
                code: "LIVEKIT_SIP_NOT_SECURED",
                message: "LiveKit trunks need LIVEKIT_SIP_AUTH_USERNAME/LIVEKIT_SIP_AUTH_PASSWORD \
                          or LIVEKIT_SIP_ALLOWED_ADDRESSES; none is configured"
                    .into(),
            });
        }
        let trunk = self
            .client
            .create_sip_inbound_trunk(
                format!("gobi {} {}", target.tenant_id, target.e164),
                vec![target.e164.as_str().to_owned()],
                CreateSIPInboundTrunkOptions {
                    metadata: Some(serde_json::to_string(&target.attributes()).unwrap_or_default()),
                    allowed_addresses: (!self.allowed_addresses.is_empty())
                        .then(|| self.allowed_addresses.clone()),
                    auth_username: self.auth.as_ref().map(|a| a.username.clone()),
                    auth_password: self
                        .auth
                        .as_ref()
                        .map(|a| a.password.expose_secret().to_owned()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| livekit_error("create the SIP trunk", e))?;
        match self.create_rule(&trunk.sip_trunk_id, target).await {
            Ok(rule_id) => Ok(SipRoute {
                trunk_id: trunk.sip_trunk_id,
                dispatch_rule_id: rule_id,
            }),
            Err(e) => {
                if let Err(cleanup) = self.client.delete_sip_trunk(&trunk.sip_trunk_id).await {
                    tracing::error!(error = %cleanup, trunk_id = %trunk.sip_trunk_id, "orphaned LiveKit trunk");
                }
                Err(e)
            }
        }
    }

    async fn create_rule(
        &self,
        trunk_id: &str,
        target: CallTarget<'_>,
    ) -> Result<String, ApiError> {
        let rule = proto::sip_dispatch_rule::Rule::DispatchRuleIndividual(
            proto::SipDispatchRuleIndividual {
                room_prefix: "call-".into(),
                ..Default::default()
            },
        );
        let metadata = serde_json::to_string(&target.attributes()).unwrap_or_default();
        let options = CreateSIPDispatchRuleOptions {
            name: format!("gobi {} {}", target.tenant_id, target.e164),
            metadata: metadata.clone(),
            attributes: target.attributes(),
            trunk_ids: vec![trunk_id.to_owned()],
            room_config: Some(proto::RoomConfiguration {
                agents: vec![proto::RoomAgentDispatch {
                    agent_name: self.agent_name.clone(),
                    metadata,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .client
            .create_sip_dispatch_rule(rule, options)
            .await
            .map_err(|e| livekit_error("create the dispatch rule", e))?;
        Ok(created.sip_dispatch_rule_id)
    }

    /// Points the number's calls at another agent: a new rule replaces the old one.
    #[tracing::instrument(skip_all, fields(tenant_id = %target.tenant_id))]
    pub async fn retarget(
        &self,
        route: &SipRoute,
        target: CallTarget<'_>,
    ) -> Result<SipRoute, ApiError> {
        let rule_id = self.create_rule(&route.trunk_id, target).await?;
        if let Err(e) = self
            .client
            .delete_sip_dispatch_rule(&route.dispatch_rule_id)
            .await
        {
            tracing::error!(error = %e, rule_id = %route.dispatch_rule_id, "old dispatch rule left behind");
        }
        Ok(SipRoute {
            trunk_id: route.trunk_id.clone(),
            dispatch_rule_id: rule_id,
        })
    }

    /// Removes the rule and the trunk; ones already gone count as removed.
    #[tracing::instrument(skip_all)]
    pub async fn remove(&self, route: &SipRoute) -> Result<(), ApiError> {
        let gone = |e: &ServiceError| matches!(e, ServiceError::Twirp(livekit_api::services::TwirpError::Twirp(c)) if c.code == "not_found");
        match self
            .client
            .delete_sip_dispatch_rule(&route.dispatch_rule_id)
            .await
        {
            Err(e) if !gone(&e) => return Err(livekit_error("delete the dispatch rule", e)),
            _ => {}
        }
        match self.client.delete_sip_trunk(&route.trunk_id).await {
            Err(e) if !gone(&e) => Err(livekit_error("delete the SIP trunk", e)),
            _ => Ok(()),
        }
    }
}
