//! The dialer's work, shared by the functions that run it: enrolment and dial jobs (the
//! `dialer` worker), the tick (the `scheduler`), and the end of an attempt (Twilio's status
//! callback on the `twilio-webhook`).
//!
//! Every dial is decided at the moment of dialing: the campaign still running, the number not
//! on the do-not-call list, the lead's local time inside a window and the law's hours, the
//! state's daily cap not reached, and a lease free under the campaign's and the tenant's caps.
//! The attempt records which window and rule allowed it.

use chrono::{DateTime, Duration, Utc};
use gobi_shared::events::{Envelope, Publisher};
use gobi_shared::ids::TenantId;
use serde::{Deserialize, Serialize};
use url::Url;

use super::dialing::{Attempt, CampaignLead, LeadStatus, Outcome, SkipReason, after_attempt};
use super::law;
use super::model::{Campaign, CampaignState, DialingState, Enrollment, PauseReason, Purpose};
use super::store::{CampaignStore, Caps, Claim, ENROLL_PAGE, QUEUED_TIMEOUT_MINUTES};
use super::windows::{next_opening, permit, zones_of};
use crate::error::StoreResult;
use crate::leads::model::{ConsentType, LeadState};
use crate::leads::store::LeadStore;
use crate::telephony::twilio::{OutboundCall, TwilioClient};
use crate::tenants::store::TenantStore;

/// An enrolment job reads this many pages, then queues the next job.
const ENROLL_PAGES_PER_JOB: usize = 20;
/// How long a live call's lease lasts before the sweep takes it back.
pub const LEASE_MINUTES: i64 = 90;
/// A dial refused for capacity is due again this much later.
const CAPACITY_RETRY_SECONDS: i64 = 30;
/// Due leads one tick looks at per campaign, at most.
const TICK_LIMIT: u32 = 500;
/// Seconds a call rings before Twilio gives up (`no-answer`).
const RING_SECONDS: u32 = 30;

pub const ENROLL_JOB: &str = "campaigns.enroll";
pub const DIAL_JOB: &str = "campaigns.dial";

/// The `dialer` worker's messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum DialerJob {
    /// Load (more of) the campaign's lists' leads.
    Enroll { campaign_id: uuid::Uuid },
    /// Dial attempt `attempt` of the lead with this number.
    Dial {
        campaign_id: uuid::Uuid,
        phone_number: String,
        attempt: u32,
    },
}

/// What the dialer needs.
#[derive(Clone)]
pub struct Dialer {
    pub campaigns: CampaignStore,
    pub leads: LeadStore,
    pub tenants: TenantStore,
    /// The dialer queue (enrolment and dial jobs).
    pub jobs: Publisher,
    /// `None` when Twilio is not configured: dials fail as `failed`.
    pub twilio: Option<TwilioClient>,
    /// GOBI's Twilio webhook base (answer and status callback URLs).
    pub webhook_base: Option<Url>,
}

/// What one tick did for one campaign.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct TickReport {
    pub campaigns: u32,
    pub queued: u32,
    pub requeued: u32,
    pub reclaimed: u32,
    pub completed: u32,
}

/// What a dial job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialed {
    Placed {
        call_sid: String,
    },
    /// Another delivery or a later state made this job moot.
    Moot,
    /// The number is on the do-not-call list: never dialed.
    Suppressed,
    /// Outside the lead's hours (or its state's daily cap): due again then.
    NotNow {
        due: DateTime<Utc>,
    },
    /// No lease free: due again shortly.
    AtCapacity,
    /// Twilio refused the call.
    Failed {
        reason: String,
    },
}

async fn send(
    jobs: &Publisher,
    tenant: TenantId,
    job: DialerJob,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let kind = match job {
        DialerJob::Enroll { .. } => ENROLL_JOB,
        DialerJob::Dial { .. } => DIAL_JOB,
    };
    jobs.send(&Envelope::new(kind, now, tenant, None, job))
        .await
}

impl Dialer {
    /// The dialer as configured; `None` without a dialer queue.
    pub fn from_config(
        config: &gobi_shared::Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
    ) -> Option<Self> {
        let queue = config.dialer_queue_url.clone()?;
        Some(Self {
            campaigns: CampaignStore::new(dynamodb.clone(), &config.tables.campaigns),
            leads: LeadStore::new(dynamodb.clone(), &config.tables.leads),
            tenants: TenantStore::new(dynamodb, &config.tables.tenants),
            jobs: Publisher::new(sqs, queue),
            twilio: TwilioClient::from_config(&config.twilio),
            webhook_base: config.twilio.webhook_base_url.clone(),
        })
    }

    /// Queues the enrolment of a campaign just started.
    pub async fn start(&self, campaign: &Campaign, now: DateTime<Utc>) -> anyhow::Result<()> {
        send(
            &self.jobs,
            campaign.tenant_id,
            DialerJob::Enroll {
                campaign_id: campaign.id,
            },
            now,
        )
        .await
    }

    /// One enrolment job: up to 20 pages of the lists' leads, then the next job (or done).
    pub async fn enroll(
        &self,
        tenant: TenantId,
        campaign_id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for _ in 0..ENROLL_PAGES_PER_JOB {
            let Some(campaign) = self.campaigns.get(tenant, campaign_id).await? else {
                return Ok(());
            };
            if campaign.enrollment.done || campaign.state.finished() {
                return Ok(());
            }
            let from = campaign.enrollment.clone();
            let index = usize::try_from(from.list).unwrap_or(usize::MAX);
            let Some(list_id) = campaign.lead_list_ids.get(index).copied() else {
                let to = Enrollment {
                    round: from.round + 1,
                    done: true,
                    ..from.clone()
                };
                self.campaigns
                    .enroll_page(&campaign, &from, Vec::new(), &to)
                    .await?;
                return Ok(());
            };
            let (leads, next) = self
                .leads
                .matching_leads(
                    list_id,
                    ENROLL_PAGE as u32,
                    from.cursor.as_deref(),
                    ENROLL_PAGE,
                    |_| true,
                )
                .await?;
            let enrolled: Vec<CampaignLead> = leads
                .into_iter()
                .map(|lead| {
                    let skip = if lead.state == LeadState::Suppressed {
                        Some(SkipReason::Suppressed)
                    } else if campaign.purpose == Purpose::Marketing
                        && lead.consent.kind != ConsentType::Written
                    {
                        Some(SkipReason::NoConsent)
                    } else {
                        None
                    };
                    CampaignLead {
                        campaign_id,
                        list_id,
                        lead_id: lead.id,
                        phone_number: lead.phone_number,
                        status: if skip.is_some() {
                            LeadStatus::Skipped
                        } else {
                            LeadStatus::Pending
                        },
                        skip_reason: skip,
                        attempts: 0,
                        last_outcome: None,
                        next_attempt_at: None,
                        lease_expires_at: None,
                        recent_dials: Vec::new(),
                        updated_at: now,
                    }
                })
                .collect();
            let last_list = index + 1 >= campaign.lead_list_ids.len();
            let no_consent = from.no_consent
                + enrolled
                    .iter()
                    .filter(|l| l.skip_reason == Some(SkipReason::NoConsent))
                    .count() as u64;
            let to = match next {
                Some(cursor) => Enrollment {
                    round: from.round + 1,
                    cursor: Some(cursor),
                    no_consent,
                    ..from.clone()
                },
                None => Enrollment {
                    round: from.round + 1,
                    list: from.list + 1,
                    cursor: None,
                    done: last_list,
                    enrolled: from.enrolled,
                    no_consent,
                },
            };
            let committed = self
                .campaigns
                .enroll_page(&campaign, &from, enrolled, &to)
                .await?;
            if committed && to.done {
                self.enrolled(&campaign, &to, now).await?;
                return Ok(());
            }
        }
        // More to read: the next job carries on (a lost one is queued again by the tick).
        send(&self.jobs, tenant, DialerJob::Enroll { campaign_id }, now).await?;
        Ok(())
    }

    /// The enrolment is complete: a marketing campaign with leads lacking written consent, and
    /// not told to skip them, pauses before its first dial.
    async fn enrolled(
        &self,
        campaign: &Campaign,
        enrollment: &Enrollment,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if campaign.purpose == Purpose::Marketing
            && !campaign.skip_without_consent
            && enrollment.no_consent > 0
        {
            tracing::warn!(tenant_id = %campaign.tenant_id, campaign_id = %campaign.id, no_consent = enrollment.no_consent, "marketing campaign paused: leads lack written consent");
            self.campaigns
                .transition(
                    campaign.tenant_id,
                    campaign.id,
                    &[CampaignState::Running, CampaignState::Scheduled],
                    CampaignState::Paused,
                    Some(PauseReason::ConsentMissing),
                    now,
                )
                .await?;
        }
        Ok(())
    }

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
                self.campaigns
                    .transition(
                        campaign.tenant_id,
                        campaign.id,
                        &[CampaignState::Scheduled],
                        CampaignState::Running,
                        None,
                        now,
                    )
                    .await?;
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
                for list in &campaign.lead_list_ids {
                    self.leads
                        .release_list(campaign.tenant_id, *list, campaign.id)
                        .await?;
                }
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
                    let zones =
                        zones_of(&self.timezone_of(&lead).await?, &campaign.schedule.timezone);
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
                    let requeue = now + Duration::minutes(QUEUED_TIMEOUT_MINUTES);
                    if self
                        .campaigns
                        .move_lead(
                            campaign,
                            &lead,
                            LeadStatus::Queued,
                            Some(requeue),
                            |_| {},
                            now,
                        )
                        .await?
                    {
                        self.queue_dial(campaign, &lead, now).await?;
                        free -= 1;
                        dialed += 1;
                        report.queued += 1;
                    }
                }
                LeadStatus::Queued => {
                    // Its job was lost (or is slow): queue it again; the claim keeps it once.
                    let requeue = now + Duration::minutes(QUEUED_TIMEOUT_MINUTES);
                    if self
                        .campaigns
                        .move_lead(
                            campaign,
                            &lead,
                            LeadStatus::Queued,
                            Some(requeue),
                            |_| {},
                            now,
                        )
                        .await?
                    {
                        self.queue_dial(campaign, &lead, now).await?;
                        report.requeued += 1;
                    }
                }
                LeadStatus::Dialing => {
                    // Its call never reported: take the leases back and count it `noReport`.
                    let reclaimed = self
                        .end_attempt(
                            campaign,
                            &lead,
                            lead.attempts,
                            Outcome::NoReport,
                            (None, None),
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
                    DialingState::WaitingRetry {
                        next_retry_at: lead.next_attempt_at,
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

    async fn queue_dial(
        &self,
        campaign: &Campaign,
        lead: &CampaignLead,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        send(
            &self.jobs,
            campaign.tenant_id,
            DialerJob::Dial {
                campaign_id: campaign.id,
                phone_number: lead.phone_number.clone(),
                attempt: lead.attempts + 1,
            },
            now,
        )
        .await?;
        Ok(())
    }

    /// The lead's time zone, as its list has it now.
    async fn timezone_of(
        &self,
        lead: &CampaignLead,
    ) -> StoreResult<crate::leads::timezones::LeadTimezone> {
        Ok(
            match self.leads.lead(lead.list_id, &lead.phone_number).await? {
                Some(listed) => listed.timezone,
                None => crate::leads::timezones::from_number(&lead.phone_number),
            },
        )
    }

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

    /// Ends attempt `attempt` with `outcome`: the lead done or due for its retry, the leases
    /// released. `false` when it had ended before.
    pub async fn end_attempt(
        &self,
        campaign: &Campaign,
        lead: &CampaignLead,
        attempt: u32,
        outcome: Outcome,
        details: (Option<String>, Option<String>),
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (to, due) = after_attempt(outcome, attempt, &campaign.retry, now);
        self.campaigns
            .finish(campaign, lead, attempt, outcome, details, to, due, now)
            .await
    }

    /// Twilio's status callback for a campaign call: a final status ends the attempt.
    #[allow(clippy::too_many_arguments)]
    pub async fn call_ended(
        &self,
        tenant: TenantId,
        campaign_id: uuid::Uuid,
        phone_number: &str,
        attempt: u32,
        call_status: &str,
        answered_by: Option<&str>,
        error_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let Some(outcome) = Outcome::from_twilio(call_status, answered_by) else {
            return Ok(false);
        };
        let Some(campaign) = self.campaigns.get(tenant, campaign_id).await? else {
            return Ok(false);
        };
        let Some(lead) = self
            .campaigns
            .campaign_lead(campaign_id, phone_number)
            .await?
        else {
            return Ok(false);
        };
        if lead.status != LeadStatus::Dialing || lead.attempts != attempt {
            return Ok(false);
        }
        self.end_attempt(
            &campaign,
            &lead,
            attempt,
            outcome,
            (
                answered_by.map(str::to_owned),
                error_code.map(str::to_owned),
            ),
            now,
        )
        .await
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
