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
use gobi_shared::ids::{AgentVersionId, TenantId};
use serde::{Deserialize, Serialize};
use url::Url;

use super::dialing::{Attempt, CampaignLead, LeadStatus, Outcome, SkipReason, after_attempt};
use super::law;
use super::model::{
    Campaign, CampaignState, DialingState, Direction, Enrollment, PauseReason, Purpose,
};
use super::store::{AttemptEnd, CampaignStore, Caps, Claim, ENROLL_PAGE, QUEUED_TIMEOUT_MINUTES};
use super::windows::{next_opening, permit, zones_of};
use crate::agents::store::AgentStore;
use crate::calls::{CallStore, CampaignCall, MetricScope};
use crate::error::{StoreError, StoreResult};
use crate::leads::model::{ConsentType, LeadState};
use crate::leads::store::LeadStore;
use crate::phone_numbers::store::PhoneNumberStore;
use crate::telephony::livekit_sip::{SipCall, SipDialer};
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
    /// With a LiveKit SIP outbound trunk configured, calls go through LiveKit instead of
    /// Twilio: the dialer opens the call record and hands it to the runtime itself.
    pub sip: Option<SipDialer>,
    pub calls: CallStore,
    /// The agent's active version, for a campaign that pins none.
    pub agents: AgentStore,
    /// Inbound campaigns' numbers, taken when a scheduled one starts and let go when it ends.
    pub numbers: PhoneNumberStore,
    /// The handoff queue (calls placed through LiveKit).
    pub handoffs: Option<Publisher>,
    /// The tenant's webhooks: calls started, leads and campaigns completed, campaigns paused.
    pub events: crate::webhooks::EventSink,
}

/// The campaign call that ended, and what its provider said about it.
#[derive(Debug, Clone, Copy)]
pub struct CampaignCallEnd<'a> {
    pub tenant: TenantId,
    pub campaign_id: uuid::Uuid,
    /// The lead's number (E.164).
    pub phone_number: &'a str,
    pub attempt: u32,
    /// Twilio's `AnsweredBy`.
    pub answered_by: Option<&'a str>,
    /// Twilio's error or the SIP code.
    pub error_code: Option<&'a str>,
    /// Set when no call record was opened for it (never answered, or a machine hung up on):
    /// the dial counts in the metrics by itself, with its end.
    pub unrecorded: Option<UnrecordedDial<'a>>,
}

/// A dial with no call record: what its metrics need.
#[derive(Debug, Clone, Copy)]
pub struct UnrecordedDial<'a> {
    /// The caller id (the tenant's number).
    pub caller_id: &'a str,
    /// The version the call would have run.
    pub agent_version_id: Option<AgentVersionId>,
    /// The tenant's time zone at the dial.
    pub timezone: Option<&'a str>,
}

impl UnrecordedDial<'_> {
    /// The metric updates of this dial, ended with `outcome`, begun at `at`: a call, answered
    /// when someone or something took it (a person whose call the answer webhook did not open,
    /// say), and voicemail when a machine did.
    fn counts(
        &self,
        calls: &CallStore,
        campaign: &Campaign,
        outcome: Outcome,
        at: DateTime<Utc>,
    ) -> anyhow::Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
        let scope = MetricScope {
            tenant: campaign.tenant_id,
            agent: Some(campaign.agent_id),
            version: self.agent_version_id,
            campaign: Some(campaign.id),
            number: Some(self.caller_id.to_owned()),
            timezone: self.timezone.map(str::to_owned),
            at,
        };
        let adds: &[(&str, i64)] = match outcome {
            Outcome::Voicemail => &[("calls", 1), ("answered", 1), ("voicemail", 1)],
            Outcome::Answered => &[("calls", 1), ("answered", 1)],
            _ => &[("calls", 1)],
        };
        calls.count(&scope, adds)
    }
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

mod dial;
mod enrolment;
mod tick;

impl Dialer {
    /// The dialer as configured; `None` without a dialer queue.
    pub fn from_config(
        config: &gobi_shared::Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
    ) -> Option<Self> {
        let queue = config.dialer_queue_url.clone()?;
        Some(Self {
            campaigns: CampaignStore::new(dynamodb.clone(), &config.tables.campaigns)
                .with_events(crate::webhooks::EventSink::from_config(config, sqs.clone())),
            leads: LeadStore::new(dynamodb.clone(), &config.tables.leads),
            tenants: TenantStore::new(dynamodb.clone(), &config.tables.tenants),
            jobs: Publisher::new(sqs.clone(), queue),
            twilio: TwilioClient::from_config(&config.twilio),
            webhook_base: config.twilio.webhook_base_url.clone(),
            sip: SipDialer::from_config(&config.livekit),
            calls: CallStore::new(dynamodb.clone(), &config.tables.calls),
            agents: AgentStore::new(dynamodb.clone(), &config.tables.agents),
            numbers: PhoneNumberStore::new(dynamodb, &config.tables.phone_numbers),
            handoffs: config
                .handoff_queue_url
                .clone()
                .map(|queue| Publisher::new(sqs.clone(), queue)),
            events: crate::webhooks::EventSink::from_config(config, sqs),
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

    /// Queues a lead's next dial, delivered after `delay_seconds` (pacing).
    async fn queue_dial(
        &self,
        campaign: &Campaign,
        lead: &CampaignLead,
        delay_seconds: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let job = DialerJob::Dial {
            campaign_id: campaign.id,
            phone_number: lead.phone_number.clone(),
            attempt: lead.attempts + 1,
        };
        self.jobs
            .send_after(
                &Envelope::new(DIAL_JOB, now, campaign.tenant_id, None, job),
                delay_seconds,
            )
            .await?;
        Ok(())
    }

    /// The lead's time zone, as its list has it now.
    /// The lead's time zone as enrolled, else as its list has it now.
    async fn enrolled_timezone(
        &self,
        lead: &CampaignLead,
    ) -> StoreResult<crate::leads::timezones::LeadTimezone> {
        match &lead.timezone {
            Some(zone) => Ok(zone.clone()),
            None => self.timezone_of(lead).await,
        }
    }

    /// The lead's time zone as its list has it now.
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

    /// A campaign call's end (see [`call_ended`]).
    pub async fn call_ended(
        &self,
        call: &CampaignCallEnd<'_>,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        call_ended(&self.campaigns, &self.calls, call, outcome, now).await
    }
}

/// Ends attempt `attempt` with `outcome`: the lead done or due for its retry, the leases
/// released. `false` when it had ended before.
async fn end_attempt(
    campaigns: &CampaignStore,
    campaign: &Campaign,
    lead: &CampaignLead,
    attempt: u32,
    outcome: Outcome,
    details: AttemptEnd,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let (to, due) = if lead.closed {
        (LeadStatus::Completed, None)
    } else {
        after_attempt(outcome, attempt, &campaign.retry, now)
    };
    let finished = campaigns
        .finish(campaign, lead, attempt, outcome, details, to, due, now)
        .await?;
    if finished && to == LeadStatus::Completed {
        lead_completed(campaigns, campaign, lead, Some(outcome), now).await;
    }
    Ok(finished)
}

/// Tells the tenant's webhooks that a campaign's lead is done.
async fn lead_completed(
    campaigns: &CampaignStore,
    campaign: &Campaign,
    lead: &CampaignLead,
    outcome: Option<Outcome>,
    now: DateTime<Utc>,
) {
    let data = serde_json::json!({
        "campaignId": campaign.id,
        "leadId": lead.lead_id,
        "phoneNumber": lead.phone_number,
        "attempts": lead.attempts,
        "outcome": outcome,
    });
    campaigns
        .events()
        .emit(
            campaign.tenant_id,
            crate::webhooks::EventType::LeadCompleted,
            data,
            now,
        )
        .await;
}

/// A campaign call's end, reported by Twilio's status callback or (for a call placed through
/// LiveKit) the runtime: its attempt ends with `outcome`, if it is still the lead's live
/// attempt. `false` when it had ended before. A dial with no call record counts in the
/// calls table's metrics in the same write.
pub async fn call_ended(
    campaigns: &CampaignStore,
    calls: &CallStore,
    call: &CampaignCallEnd<'_>,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let Some(campaign) = campaigns.get(call.tenant, call.campaign_id).await? else {
        return Ok(false);
    };
    let Some(lead) = campaigns
        .campaign_lead(call.campaign_id, call.phone_number)
        .await?
    else {
        return Ok(false);
    };
    if lead.status != LeadStatus::Dialing || lead.attempts != call.attempt {
        return Ok(false);
    }
    // The dial began at the lead's last dial.
    let dialed_at = lead.recent_dials.iter().max().copied().unwrap_or(now);
    let metrics = match &call.unrecorded {
        Some(dial) => dial.counts(calls, &campaign, outcome, dialed_at)?,
        None => Vec::new(),
    };
    let details = AttemptEnd {
        answered_by: call.answered_by.map(str::to_owned),
        error_code: call.error_code.map(str::to_owned),
        metrics,
    };
    end_attempt(
        campaigns,
        &campaign,
        &lead,
        call.attempt,
        outcome,
        details,
        now,
    )
    .await
}

/// A terminal disposition on one of the campaign's calls: the lead gets no further attempt. A
/// lead waiting (pending, queued, or for its retry) is completed now; one on a live call is
/// marked, and completed when that attempt ends. `false` when there was nothing to close.
pub async fn close_lead(
    campaigns: &CampaignStore,
    tenant: TenantId,
    campaign_id: uuid::Uuid,
    phone_number: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let Some(campaign) = campaigns.get(tenant, campaign_id).await? else {
        return Ok(false);
    };
    // A lost race (the lead moved meanwhile) is read again; a few rounds settle it.
    for _ in 0..3 {
        let Some(lead) = campaigns.campaign_lead(campaign_id, phone_number).await? else {
            return Ok(false);
        };
        let closing = |l: &mut CampaignLead| l.closed = true;
        let moved = match lead.status {
            _ if lead.closed => return Ok(false),
            LeadStatus::Pending | LeadStatus::Queued | LeadStatus::RetryScheduled => {
                let moved = campaigns
                    .move_lead(&campaign, &lead, LeadStatus::Completed, None, closing, now)
                    .await?;
                if moved {
                    lead_completed(campaigns, &campaign, &lead, lead.last_outcome, now).await;
                }
                moved
            }
            LeadStatus::Dialing => {
                let due = lead.lease_expires_at;
                campaigns
                    .move_lead(&campaign, &lead, LeadStatus::Dialing, due, closing, now)
                    .await?
            }
            _ => return Ok(false),
        };
        if moved {
            return Ok(true);
        }
    }
    Err(StoreError::concurrent("the campaign lead kept changing"))
}
