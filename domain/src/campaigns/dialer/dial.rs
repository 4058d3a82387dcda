//! One dial job: every check again at the moment of dialing, the claim, the call.

use std::collections::HashMap;

use super::*;
use crate::calls::{
    Call, CallStatus, Direction, LIVEKIT_CALL_SID_PREFIX, Opening, RingingCall, open_and_hand_off,
};
use crate::tenants::model::Tenant;

impl Dialer {
    /// One dial job: every check again at this moment, the claim, the call.
    pub async fn dial(
        &self,
        tenant: TenantId,
        campaign_id: uuid::Uuid,
        phone_number: &str,
        attempt: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Dialed> {
        let Some(campaign) = self.campaigns.get(tenant, campaign_id).await? else {
            return Ok(Dialed::Moot);
        };
        let Some(lead) = self
            .campaigns
            .campaign_lead(campaign.id, phone_number)
            .await?
        else {
            return Ok(Dialed::Moot);
        };
        if lead.status != LeadStatus::Queued || lead.attempts + 1 != attempt {
            return Ok(Dialed::Moot);
        }
        if campaign.state != CampaignState::Running {
            // Paused or stopped meanwhile: the lead waits, due when the campaign runs again.
            let to = if campaign.state.finished() {
                LeadStatus::Cancelled
            } else {
                LeadStatus::Pending
            };
            let due = (to == LeadStatus::Pending).then_some(now);
            self.campaigns
                .move_lead(&campaign, &lead, to, due, |_| {}, now)
                .await?;
            return Ok(Dialed::Moot);
        }
        if self
            .leads
            .suppression(tenant, &lead.phone_number)
            .await?
            .is_some()
        {
            self.campaigns
                .move_lead(
                    &campaign,
                    &lead,
                    LeadStatus::Skipped,
                    None,
                    |l| {
                        l.skip_reason = Some(SkipReason::Suppressed);
                    },
                    now,
                )
                .await?;
            return Ok(Dialed::Suppressed);
        }
        let zones = zones_of(&self.timezone_of(&lead).await?, &campaign.schedule.timezone);
        let rule = law::rule_for(&lead.phone_number);
        let recent: Vec<DateTime<Utc>> = lead
            .recent_dials
            .iter()
            .copied()
            .filter(|at| *at > now - Duration::hours(24))
            .collect();
        let capped_until = rule
            .max_calls_per_day
            .filter(|cap| recent.len() >= usize::try_from(*cap).unwrap_or(usize::MAX))
            .and_then(|_| {
                recent
                    .iter()
                    .min()
                    .map(|first| *first + Duration::hours(24))
            });
        let allowed = permit(&campaign.schedule, &zones, rule, now);
        let (Some(allowed), None) = (allowed, capped_until) else {
            let due = capped_until
                .or_else(|| next_opening(&campaign.schedule, &zones, rule, now))
                .unwrap_or(now + Duration::days(1));
            self.campaigns
                .move_lead(
                    &campaign,
                    &lead,
                    LeadStatus::Pending,
                    Some(due),
                    |l| {
                        l.next_attempt_at = Some(due);
                    },
                    now,
                )
                .await?;
            return Ok(Dialed::NotNow { due });
        };
        let Some(account) = self.tenants.get(tenant).await? else {
            return Ok(Dialed::Moot);
        };
        let caller_id = caller_for(&campaign, &lead, attempt);
        let version = match campaign.version_for(&lead.lead_id) {
            Some(version) => Some(version),
            None => self
                .agents
                .get(tenant, campaign.agent_id)
                .await?
                .and_then(|agent| agent.active_version_id),
        };
        let record = Attempt {
            campaign_id: campaign.id,
            lead_id: lead.lead_id.clone(),
            attempt,
            call_sid: None,
            caller_id: caller_id.clone(),
            outcome: None,
            error_code: None,
            answered_by: None,
            permit: allowed,
            started_at: now,
            ended_at: None,
            disposition: None,
            agent_version_id: version,
        };
        let caps = Caps {
            campaign: campaign.pacing.max_concurrency,
            tenant: account.max_concurrent_calls,
        };
        let lease_until = now + Duration::minutes(LEASE_MINUTES);
        match self
            .campaigns
            .claim(&campaign, &lead, &record, caps, lease_until, now)
            .await?
        {
            Claim::Duplicate => return Ok(Dialed::Moot),
            Claim::Refused => {
                let due = now + Duration::seconds(CAPACITY_RETRY_SECONDS);
                self.campaigns
                    .move_lead(
                        &campaign,
                        &lead,
                        LeadStatus::Pending,
                        Some(due),
                        |_| {},
                        now,
                    )
                    .await?;
                return Ok(Dialed::AtCapacity);
            }
            Claim::Claimed => {}
        }
        let dialing = CampaignLead {
            status: LeadStatus::Dialing,
            attempts: attempt,
            ..lead
        };
        let placed = match &self.sip {
            Some(sip) => {
                self.place_over_sip(sip, &account, &campaign, &dialing, &record, now)
                    .await
            }
            None => {
                self.place(&campaign, &dialing, &caller_id, &record, &account)
                    .await
            }
        };
        match placed {
            Ok(call_sid) => {
                self.campaigns
                    .placed(campaign.id, &dialing.lead_id, attempt, &call_sid)
                    .await?;
                tracing::info!(tenant_id = %tenant, campaign_id = %campaign.id, attempt, window = record.permit.window, rule = %record.permit.rule, "call placed");
                Ok(Dialed::Placed { call_sid })
            }
            Err(reason) => {
                tracing::warn!(tenant_id = %tenant, campaign_id = %campaign.id, attempt, reason = %reason, "call not placed");
                // Through LiveKit the call was recorded before it was placed; through Twilio it
                // never was, and the dial counts by itself.
                let metrics = match &self.sip {
                    Some(_) => Vec::new(),
                    None => UnrecordedDial {
                        caller_id: &caller_id,
                        agent_version_id: version,
                        timezone: Some(&account.timezone),
                    }
                    .counts(&self.calls, &campaign, Outcome::Failed, now)?,
                };
                end_attempt(
                    &self.campaigns,
                    &campaign,
                    &dialing,
                    attempt,
                    Outcome::Failed,
                    AttemptEnd {
                        error_code: Some(reason.clone()),
                        metrics,
                        ..AttemptEnd::default()
                    },
                    now,
                )
                .await?;
                Ok(Dialed::Failed { reason })
            }
        }
    }

    /// Places the call with Twilio; the reason when it could not.
    async fn place(
        &self,
        campaign: &Campaign,
        lead: &CampaignLead,
        caller_id: &str,
        attempt: &Attempt,
        account: &Tenant,
    ) -> Result<String, String> {
        let (Some(twilio), Some(base)) = (&self.twilio, &self.webhook_base) else {
            return Err("Twilio is not configured".into());
        };
        let mut answer = base
            .join("/twilio/webhook/outbound")
            .map_err(|e| e.to_string())?;
        let mut status = base
            .join("/twilio/webhook/status")
            .map_err(|e| e.to_string())?;
        // Both URLs name the attempt, the version it runs and the tenant's zone its figures
        // count in (Twilio's signature covers their query).
        for url in [&mut answer, &mut status] {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("tenantId", &campaign.tenant_id.to_string())
                .append_pair("campaignId", &campaign.id.to_string())
                .append_pair("lead", &lead.phone_number)
                .append_pair("attempt", &attempt.attempt.to_string())
                .append_pair("timezone", &account.timezone);
            if let Some(version) = attempt.agent_version_id {
                query.append_pair("agentVersionId", &version.to_string());
            }
        }
        let call = OutboundCall {
            to: &lead.phone_number,
            from: caller_id,
            answer_url: &answer,
            status_callback: &status,
            detect_machine: true,
            ring_seconds: RING_SECONDS,
        };
        twilio
            .place_call(&call)
            .await
            .map(|placed| placed.sid)
            .map_err(|e| e.to_string())
    }
}

impl Dialer {
    /// Places the call through LiveKit's outbound trunk: the call record is opened and handed
    /// to the runtime first (the agent is dispatched into the call's room), then LiveKit dials
    /// the lead into that room. The call's id stands as the attempt's call id; the runtime
    /// reports how it ended.
    async fn place_over_sip(
        &self,
        sip: &SipDialer,
        account: &Tenant,
        campaign: &Campaign,
        lead: &CampaignLead,
        attempt: &Attempt,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let caller_id = attempt.caller_id.as_str();
        // The caller id's number record, when it is still the tenant's (per-number figures).
        let number = match gobi_shared::ids::E164::parse(caller_id) {
            Ok(e164) => self
                .numbers
                .route(&e164)
                .await
                .map_err(|e| e.to_string())?
                .filter(|route| route.tenant_id == campaign.tenant_id)
                .map(|route| route.phone_number_id),
            Err(_) => None,
        };
        let opened = Call::ringing(
            RingingCall {
                tenant_id: campaign.tenant_id,
                // One per attempt: a redelivered job finds the same call.
                call_sid: format!(
                    "{LIVEKIT_CALL_SID_PREFIX}{}-{}-{}",
                    campaign.id.simple(),
                    lead.lead_id,
                    lead.attempts
                ),
                direction: Direction::Outbound,
                from: caller_id.to_owned(),
                to: lead.phone_number.clone(),
                agent_id: Some(campaign.agent_id),
                agent_version_id: attempt.agent_version_id,
                phone_number_id: number,
                retention_days: account.retention_days,
                timezone: account.timezone.clone(),
                answered_by: None,
                campaign: Some(CampaignCall {
                    campaign_id: campaign.id,
                    lead_id: lead.lead_id.clone(),
                    attempt: Some(lead.attempts),
                }),
            },
            now,
        );
        let opening = open_and_hand_off(
            &self.calls,
            self.handoffs.as_ref(),
            &self.events,
            &opened,
            account.legal_hold.is_some(),
            Vec::new(),
            now,
        )
        .await
        .map_err(|e| format!("the call was not handed off: {e}"))?;
        let call = match opening {
            Opening::New(call) => *call,
            // A redelivered dial: the call an earlier delivery opened, as stored.
            Opening::Existing {
                tenant_id, call_id, ..
            } => self
                .calls
                .get(tenant_id, call_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("call {call_id} is gone"))?,
            Opening::Stale(_) => {
                return Err("opening the call failed a check it had none of".into());
            }
        };
        let room = call.room_name();
        let attributes = HashMap::from([
            ("gobi.tenant_id".to_owned(), campaign.tenant_id.to_string()),
            ("gobi.call_id".to_owned(), call.id.to_string()),
            ("gobi.campaign_id".to_owned(), campaign.id.to_string()),
        ]);
        let placed = sip
            .place_call(&SipCall {
                to: &lead.phone_number,
                from: caller_id,
                room: &room,
                identity: &format!("lead-{}", lead.lead_id),
                attributes,
            })
            .await;
        if placed.is_err() {
            // The call never rang: its record ends as failed (the attempt ends with it).
            self.calls
                .advance(&call, CallStatus::Failed, None, now)
                .await
                .map_err(|e| e.to_string())?;
        }
        placed.map(|_| call.id.to_string())
    }
}

/// The caller id of an attempt: the campaign's numbers in turn, starting where the lead's
/// number puts it, so retries and neighbours spread over them.
fn caller_for(campaign: &Campaign, lead: &CampaignLead, attempt: u32) -> String {
    let count = campaign.caller_ids.len().max(1);
    let seed: usize = lead.lead_id.bytes().fold(0usize, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let index = seed.wrapping_add(usize::try_from(attempt).unwrap_or(0)) % count;
    campaign
        .caller_ids
        .get(index)
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default()
}
