//! What opening a call to a number needs beyond its route: the tenant's retention, time zone
//! and hold, the agent's active version, and a running inbound campaign's version choice. It is
//! kept beside the route (`ROUTE#<e164>` / `ROUTE#CONTEXT`), so the webhook reads it with the
//! route in one Query, and it is never trusted blindly: the transaction that opens the call
//! checks that the tenant's version, the agent's active version and the campaign's `updatedAt`
//! are still the ones it was taken from. When one is not (or there is no context yet), the
//! webhook reads the three afresh and writes the new context in the transaction that opens the
//! call, so a change costs the next call one read, and no write anywhere else has to remember it.

use gobi_shared::ids::{AgentId, AgentVersionId, PhoneNumberId, TenantId};
use serde::{Deserialize, Serialize};

use super::store::InboundRoute;
use crate::agents::store::AgentStore;
use crate::campaigns::model::{VersionWeight, pick_version};
use crate::campaigns::store::CampaignStore;
use crate::error::StoreResult;
use crate::tenants::store::TenantStore;

/// The other aggregates' facts a call to a number opens with, and what they were read at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteContext {
    pub tenant_id: TenantId,
    pub phone_number_id: PhoneNumberId,
    /// The tenant's version when read; written only while the tenant was active.
    pub tenant_version: u64,
    pub retention_days: u32,
    pub timezone: String,
    pub tenant_held: bool,
    /// The agent calls go to (the campaign's while one holds the number).
    pub agent_id: Option<AgentId>,
    /// That agent's active version when read.
    pub agent_version_id: Option<AgentVersionId>,
    pub campaign: Option<ContextCampaign>,
}

/// A running inbound campaign's version choice, as of its `updatedAt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextCampaign {
    pub campaign_id: uuid::Uuid,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub agent_version_id: Option<AgentVersionId>,
    #[serde(default)]
    pub version_split: Vec<VersionWeight>,
}

/// The stores a context is read from and checked against.
#[derive(Clone, Copy)]
pub struct ContextSources<'a> {
    pub tenants: &'a TenantStore,
    pub agents: &'a AgentStore,
    pub campaigns: &'a CampaignStore,
}

/// The agent a call to `route` goes to: its running inbound campaign's, else the number's.
pub fn agent_of(route: &InboundRoute) -> Option<AgentId> {
    route
        .campaign
        .as_ref()
        .map(|c| c.agent_id)
        .or(route.agent_id)
}

impl RouteContext {
    /// Whether this context was taken for the route as it is now (same tenant, number, agent
    /// and campaign); one left from before a change is not.
    pub fn fits(&self, route: &InboundRoute) -> bool {
        self.tenant_id == route.tenant_id
            && self.phone_number_id == route.phone_number_id
            && self.agent_id == agent_of(route)
            && self.campaign.as_ref().map(|c| c.campaign_id)
                == route.campaign.as_ref().map(|c| c.campaign_id)
    }

    /// Reads the context of `route` afresh (the tenant, agent and campaign at once): `None`
    /// when the tenant is gone or inactive (calls to it are refused).
    pub async fn read(
        sources: ContextSources<'_>,
        route: &InboundRoute,
    ) -> StoreResult<Option<RouteContext>> {
        let agent_id = agent_of(route);
        let (tenant, agent, campaign) = tokio::try_join!(
            sources.tenants.get_versioned(route.tenant_id),
            async {
                match agent_id {
                    Some(agent) => sources.agents.get(route.tenant_id, agent).await,
                    None => Ok(None),
                }
            },
            async {
                match &route.campaign {
                    Some(c) => sources.campaigns.get(route.tenant_id, c.campaign_id).await,
                    None => Ok(None),
                }
            },
        )?;
        let Some((tenant, version)) = tenant.filter(|(t, _)| t.is_active) else {
            return Ok(None);
        };
        Ok(Some(RouteContext {
            tenant_id: route.tenant_id,
            phone_number_id: route.phone_number_id,
            tenant_version: version,
            retention_days: tenant.retention_days,
            timezone: tenant.timezone,
            tenant_held: tenant.legal_hold.is_some(),
            agent_id,
            agent_version_id: agent.and_then(|a| a.active_version_id),
            campaign: campaign.map(|c| ContextCampaign {
                campaign_id: c.id,
                updated_at: c.updated_at,
                agent_version_id: c.agent_version_id,
                version_split: c.version_split,
            }),
        }))
    }

    /// The condition checks that hold while this context is current, for the transaction that
    /// opens a call from it: `[0]` the tenant, then the agent, then the campaign (when there).
    pub fn guards(
        &self,
        sources: ContextSources<'_>,
    ) -> anyhow::Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
        let mut guards = vec![
            sources
                .tenants
                .unchanged_check(self.tenant_id, self.tenant_version)?,
        ];
        if let Some(agent) = self.agent_id {
            guards.push(sources.agents.active_version_check(
                self.tenant_id,
                agent,
                self.agent_version_id,
            )?);
        }
        if let Some(campaign) = &self.campaign {
            guards.push(sources.campaigns.unchanged_check(
                self.tenant_id,
                campaign.campaign_id,
                campaign.updated_at,
            )?);
        }
        Ok(guards)
    }

    /// The version a call from `lead_id` (the caller's digits) runs: the campaign's pin or its
    /// split's pick, else the agent's active version.
    pub fn version_for(&self, lead_id: &str) -> Option<AgentVersionId> {
        self.campaign
            .as_ref()
            .and_then(|c| {
                pick_version(c.campaign_id, c.agent_version_id, &c.version_split, lead_id)
            })
            .or(self.agent_version_id)
    }
}
