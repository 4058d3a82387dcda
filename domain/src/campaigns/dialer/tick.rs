//! The scheduler's tick: due leads queued inside their hours, lost jobs queued again, expired
//! leases taken back, and what the campaign is waiting for.

use super::*;
use crate::campaigns::inbound;
use crate::error::StoreError;

impl Dialer {
    /// One tick over every running campaign.
    pub async fn tick(&self, now: DateTime<Utc>) -> StoreResult<TickReport> {
        let mut report = TickReport::default();
        for (tenant, id) in self.campaigns.running().await? {
            let Some(campaign) = self.campaigns.get(tenant, id).await? else {
                continue;
            };
            report.campaigns += 1;
            self.tick_campaign(&campaign, now, &mut report).await?;
        }
        Ok(report)
    }

    async fn tick_campaign(
        &self,
        campaign: &Campaign,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> StoreResult<()> {
        if campaign.state == CampaignState::Scheduled {
            // Its start has come: it runs from the next tick on.
            if campaign.schedule.start_at.is_none_or(|start| start <= now) {
                self.start_scheduled(campaign, now).await?;
            }
            return Ok(());
        }
        if campaign.direction == Direction::Inbound {
            // Nothing to dial: it runs until its end, then lets its numbers and lists go.
            if campaign.schedule.end_at.is_some_and(|end| now >= end)
                && self
                    .campaigns
                    .transition(
                        campaign.tenant_id,
                        campaign.id,
                        &[CampaignState::Running],
                        CampaignState::Completed,
                        None,
                        now,
                    )
                    .await?
            {
                inbound::release_numbers(&self.numbers, campaign).await?;
                self.release_lists(campaign).await?;
                report.completed += 1;
            }
            return Ok(());
        }
        if !campaign.enrollment.done {
            send(
                &self.jobs,
                campaign.tenant_id,
                DialerJob::Enroll {
                    campaign_id: campaign.id,
                },
                now,
            )
            .await?;
            return self
                .campaigns
                .set_dialing_state(campaign, &DialingState::Enrolling)
                .await;
        }
        if campaign.schedule.end_at.is_some_and(|end| now >= end) {
            self.campaigns
                .transition(
                    campaign.tenant_id,
                    campaign.id,
                    &[CampaignState::Running],
                    CampaignState::Paused,
                    Some(PauseReason::EndReached),
                    now,
                )
                .await?;
            return Ok(());
        }
        if self.breaker_tripped(campaign, now).await? {
            return Ok(());
        }
        if campaign.counts.open() == 0 {
            if self
                .campaigns
                .transition(
                    campaign.tenant_id,
                    campaign.id,
                    &[CampaignState::Running],
                    CampaignState::Completed,
                    None,
                    now,
                )
                .await?
            {
                self.release_lists(campaign).await?;
                report.completed += 1;
            }
            return Ok(());
        }
        let mut free = campaign
            .pacing
            .max_concurrency
            .saturating_sub(campaign.live_calls)
            .min(campaign.pacing.max_calls_per_second.saturating_mul(60));
        let mut dialed = 0;
        let mut outside: Option<DateTime<Utc>> = None;
        let mut at_capacity = false;
        for lead in self
            .campaigns
            .due_leads(campaign.id, now, TICK_LIMIT)
            .await?
        {
            match lead.status {
                LeadStatus::Pending | LeadStatus::RetryScheduled => {
                    if free == 0 {
                        at_capacity = true;
                        continue;
                    }
                    let zones = zones_of(
                        &self.enrolled_timezone(&lead).await?,
                        &campaign.schedule.timezone,
                    );
                    let rule = law::rule_for(&lead.phone_number);
                    if permit(&campaign.schedule, &zones, rule, now).is_none() {
                        let opening = next_opening(&campaign.schedule, &zones, rule, now);
                        outside = match (outside, opening) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        // Looked at again when it opens (or in a day if nothing opens soon).
                        let due = opening.unwrap_or(now + Duration::days(1));
                        self.campaigns
                            .move_lead(
                                campaign,
                                &lead,
                                lead.status,
                                Some(due),
                                |l| l.next_attempt_at = Some(due),
                                now,
                            )
                            .await?;
                        continue;
                    }
                    // `maxCallsPerSecond`: the k-th dial of this tick waits k / rate seconds.
                    let delay = dialed / campaign.pacing.max_calls_per_second.max(1);
                    if self.queue_lead(campaign, &lead, delay, now).await? {
                        free -= 1;
                        dialed += 1;
                        report.queued += 1;
                    }
                }
                LeadStatus::Queued => {
                    // Its job was lost (or is slow): queue it again; the claim keeps it once.
                    let requeued = self.queue_lead(campaign, &lead, 0, now).await?;
                    report.requeued += u32::from(requeued);
                }
                LeadStatus::Dialing => {
                    // Its call never reported: take the leases back and count it `noReport`.
                    let reclaimed = end_attempt(
                        &self.campaigns,
                        campaign,
                        &lead,
                        lead.attempts,
                        Outcome::NoReport,
                        // Whether a call record counts it is unknown: the metrics leave it out.
                        AttemptEnd::default(),
                        now,
                    )
                    .await?;
                    report.reclaimed += u32::from(reclaimed);
                }
                _ => {}
            }
        }
        let state = if dialed > 0 {
            DialingState::Dialing
        } else if at_capacity || free == 0 {
            DialingState::AtCapacity
        } else if outside.is_some() {
            DialingState::OutsideWindow {
                next_opening: outside,
            }
        } else {
            // Nothing due now: the next lead due says why.
            match self.campaigns.next_due(campaign.id).await? {
                Some(lead) if lead.status == LeadStatus::RetryScheduled => {
                    // A retry whose lead is outside its hours now waits for the window, not the delay.
                    let zones = zones_of(
                        &self.enrolled_timezone(&lead).await?,
                        &campaign.schedule.timezone,
                    );
                    let rule = law::rule_for(&lead.phone_number);
                    if permit(&campaign.schedule, &zones, rule, now).is_none() {
                        DialingState::OutsideWindow {
                            next_opening: next_opening(&campaign.schedule, &zones, rule, now),
                        }
                    } else {
                        DialingState::WaitingRetry {
                            next_retry_at: lead.next_attempt_at,
                        }
                    }
                }
                Some(lead) if lead.status == LeadStatus::Pending => DialingState::OutsideWindow {
                    next_opening: lead.next_attempt_at,
                },
                Some(_) => DialingState::Dialing,
                None => DialingState::NoEligibleLeads,
            }
        };
        self.campaigns.set_dialing_state(campaign, &state).await
    }

    /// Moves the lead to `queued` (looked at again if its job is not claimed in time) and
    /// queues its dial job, delivered after `delay_seconds`; `false` when another tick moved it
    /// first (nothing queued).
    async fn queue_lead(
        &self,
        campaign: &Campaign,
        lead: &CampaignLead,
        delay_seconds: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let requeue = now + Duration::minutes(QUEUED_TIMEOUT_MINUTES);
        let moved = self
            .campaigns
            .move_lead(
                campaign,
                lead,
                LeadStatus::Queued,
                Some(requeue),
                |_| {},
                now,
            )
            .await?;
        if moved {
            self.queue_dial(campaign, lead, delay_seconds, now).await?;
        }
        Ok(moved)
    }

    /// A scheduled campaign whose start has come runs; an inbound one takes its numbers first
    /// (one held by another running campaign pauses it, `numbersInUse`).
    async fn start_scheduled(&self, campaign: &Campaign, now: DateTime<Utc>) -> StoreResult<()> {
        let (to, reason) = match inbound::assign_numbers(&self.numbers, campaign).await {
            Ok(()) => (CampaignState::Running, None),
            Err(StoreError::Conflict { .. }) => {
                tracing::warn!(tenant_id = %campaign.tenant_id, campaign_id = %campaign.id, "an inbound campaign's number is held by another: paused");
                (CampaignState::Paused, Some(PauseReason::NumbersInUse))
            }
            Err(e) => return Err(e),
        };
        self.campaigns
            .transition(
                campaign.tenant_id,
                campaign.id,
                &[CampaignState::Scheduled],
                to,
                reason,
                now,
            )
            .await?;
        Ok(())
    }

    /// Lets go of the campaign's lists (it has finished).
    async fn release_lists(&self, campaign: &Campaign) -> StoreResult<()> {
        for list in &campaign.lead_list_ids {
            self.leads
                .release_list(campaign.tenant_id, *list, campaign.id)
                .await?;
        }
        Ok(())
    }

    /// The circuit breaker: more than `failurePercent` of the last `window` attempts failed (or
    /// never reported) pauses the campaign. The outcomes kept are trimmed to the window.
    async fn breaker_tripped(&self, campaign: &Campaign, now: DateTime<Utc>) -> StoreResult<bool> {
        let recent = &campaign.recent_outcomes;
        let Some(breaker) = campaign.circuit_breaker else {
            if !recent.is_empty() {
                self.campaigns
                    .trim_recent_outcomes(campaign, recent.len(), 0)
                    .await?;
            }
            return Ok(false);
        };
        let window = usize::try_from(breaker.window).unwrap_or(usize::MAX);
        if recent.len() > window {
            self.campaigns
                .trim_recent_outcomes(campaign, recent.len(), window)
                .await?;
        }
        let last = &recent[recent.len().saturating_sub(window)..];
        if last.len() < window {
            return Ok(false);
        }
        let failed = last
            .iter()
            .filter(|o| matches!(o, Outcome::Failed | Outcome::NoReport))
            .count();
        if failed * 100 <= last.len() * usize::try_from(breaker.failure_percent).unwrap_or(100) {
            return Ok(false);
        }
        tracing::warn!(tenant_id = %campaign.tenant_id, campaign_id = %campaign.id, failed, window, "circuit breaker: campaign paused");
        self.campaigns
            .transition(
                campaign.tenant_id,
                campaign.id,
                &[CampaignState::Running],
                CampaignState::Paused,
                Some(PauseReason::CircuitBreaker),
                now,
            )
            .await
    }
}
