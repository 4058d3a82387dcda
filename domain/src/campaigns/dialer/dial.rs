//! One dial job: every check again at the moment of dialing, the claim, the call.

use super::*;

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
        let tenant_cap = self
            .tenants
            .get(tenant)
            .await?
            .map_or(0, |t| t.max_concurrent_calls);
        let caller_id = caller_for(&campaign, &lead, attempt);
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
        };
        let caps = Caps {
            campaign: campaign.pacing.max_concurrency,
            tenant: tenant_cap,
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
        match self.place(&campaign, &dialing, &caller_id, attempt).await {
            Ok(call_sid) => {
                self.campaigns
                    .placed(campaign.id, &dialing.lead_id, attempt, &call_sid)
                    .await?;
                tracing::info!(tenant_id = %tenant, campaign_id = %campaign.id, attempt, window = record.permit.window, rule = %record.permit.rule, "call placed");
                Ok(Dialed::Placed { call_sid })
            }
            Err(reason) => {
                tracing::warn!(tenant_id = %tenant, campaign_id = %campaign.id, attempt, reason = %reason, "call not placed");
                self.end_attempt(
                    &campaign,
                    &dialing,
                    attempt,
                    Outcome::Failed,
                    (None, Some(reason.clone())),
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
        attempt: u32,
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
        // Both URLs name the attempt (Twilio's signature covers their query).
        for url in [&mut answer, &mut status] {
            url.query_pairs_mut()
                .append_pair("tenantId", &campaign.tenant_id.to_string())
                .append_pair("campaignId", &campaign.id.to_string())
                .append_pair("lead", &lead.phone_number)
                .append_pair("attempt", &attempt.to_string());
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
