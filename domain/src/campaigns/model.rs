//! Campaigns as stored and as the API shows them (camelCase, the first seed's family).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gobi_shared::ids::{AgentId, AgentVersionId, E164, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::windows::Schedule;

/// Which way a campaign's calls go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// GOBI dials the leads of its lists.
    #[default]
    Outbound,
    /// Calls to its numbers carry the campaign.
    Inbound,
}

/// What the calls are for: marketing calls need each lead's written consent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Purpose {
    #[default]
    Informational,
    Marketing,
}

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CampaignState {
    Draft,
    /// Started, waiting for its `startAt`.
    Scheduled,
    Running,
    Paused,
    Completed,
    Cancelled,
}

impl CampaignState {
    /// Settings may change only before the start and while paused.
    pub fn editable(self) -> bool {
        matches!(self, Self::Draft | Self::Paused)
    }

    pub fn finished(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// Why a campaign is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum PauseReason {
    Manual,
    /// Too many of the last attempts failed.
    CircuitBreaker,
    /// The schedule's `endAt` passed with leads left.
    EndReached,
    /// A marketing campaign with leads lacking written consent, started without
    /// `skipWithoutConsent`: nothing was dialed (`enrollment.noConsent` says how many).
    ConsentMissing,
    /// An inbound campaign whose start came while one of its numbers was held by another
    /// running campaign.
    NumbersInUse,
}

/// How fast a campaign dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pacing {
    /// Live calls at most, within the tenant's `maxConcurrentCalls`.
    #[schema(minimum = 1, maximum = 1000, example = 10)]
    pub max_concurrency: u32,
    /// New calls per second at most.
    #[schema(minimum = 1, maximum = 50, example = 1)]
    pub max_calls_per_second: u32,
}

/// Whether an outcome is retried, and after how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutcomeRetry {
    pub retry: bool,
    #[schema(minimum = 1, maximum = 10080, example = 60)]
    pub delay_minutes: u32,
}

/// Attempts per lead over all outcomes, and which outcomes are tried again; a field left out
/// keeps its default (3 attempts; no answer after 60 minutes, busy after 15, failed after 30,
/// voicemail not retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RetryPolicy {
    #[schema(minimum = 1, maximum = 10, example = 3)]
    pub max_attempts: u32,
    pub no_answer: OutcomeRetry,
    pub busy: OutcomeRetry,
    pub voicemail: OutcomeRetry,
    pub failed: OutcomeRetry,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let retry = |delay_minutes| OutcomeRetry {
            retry: true,
            delay_minutes,
        };
        Self {
            max_attempts: 3,
            no_answer: retry(60),
            busy: retry(15),
            voicemail: OutcomeRetry {
                retry: false,
                delay_minutes: 240,
            },
            failed: retry(30),
        }
    }
}

/// What a call answered by a machine does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum VoicemailAction {
    #[default]
    Hangup,
    /// The agent speaks after the beep.
    LeaveMessage,
}

/// Pause the campaign when more than `failurePercent` of the last `window` attempts failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CircuitBreaker {
    #[schema(minimum = 1, maximum = 100, example = 50)]
    pub failure_percent: u32,
    #[schema(minimum = 10, maximum = 1000, example = 20)]
    pub window: u32,
}

/// A campaign: an agent calling the leads of its lists (or answering its numbers) on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub direction: Direction,
    pub purpose: Purpose,
    pub agent_id: AgentId,
    /// A pinned version; else the agent's active version when each call is placed.
    pub agent_version_id: Option<AgentVersionId>,
    pub lead_list_ids: Vec<uuid::Uuid>,
    /// The tenant's own numbers the calls come from, in turn.
    #[schema(value_type = Vec<String>)]
    pub caller_ids: Vec<E164>,
    pub schedule: Schedule,
    pub pacing: Pacing,
    pub retry: RetryPolicy,
    pub voicemail: VoicemailAction,
    /// Merged under each lead's own variables.
    pub variables: BTreeMap<String, String>,
    pub circuit_breaker: Option<CircuitBreaker>,
    /// A single call placed with `POST /api/tenants/{id}/calls`: a campaign of one lead, kept
    /// out of the campaign list.
    #[serde(default)]
    pub single_call: bool,
    /// Marketing campaigns: leads without written consent are skipped (`noConsent`) rather
    /// than keeping the campaign from starting (set by `start`).
    #[serde(default)]
    pub skip_without_consent: bool,
    pub state: CampaignState,
    pub pause_reason: Option<PauseReason>,
    /// Why nothing is dialing now, as the scheduler's last tick saw it (while running).
    #[serde(default)]
    pub dialing_state: Option<DialingState>,
    /// Leads by status, kept as they move.
    #[serde(default)]
    pub counts: LeadCounts,
    /// Attempts by outcome.
    #[serde(default)]
    pub outcomes: OutcomeCounts,
    /// Live calls now (leases held).
    #[serde(default)]
    pub live_calls: u32,
    /// Loading the lists' leads into the campaign after the start.
    #[serde(default)]
    pub enrollment: Enrollment,
    /// The latest attempts' outcomes, oldest first (the circuit breaker reads them; attempts
    /// append, the tick trims). Written by the store's updates only.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub recent_outcomes: Vec<super::dialing::Outcome>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why a running campaign is not dialing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum DialingState {
    /// Calls are being placed.
    Dialing,
    /// Every due lead is outside its calling hours; the earliest opens then.
    #[serde(rename_all = "camelCase")]
    OutsideWindow { next_opening: Option<DateTime<Utc>> },
    /// All of `maxConcurrency` (or the tenant's `maxConcurrentCalls`) is in use.
    AtCapacity,
    /// Leads wait for their retry delay.
    #[serde(rename_all = "camelCase")]
    WaitingRetry {
        next_retry_at: Option<DateTime<Utc>>,
    },
    /// No lead is left to call.
    NoEligibleLeads,
    /// The lists' leads are still being loaded.
    Enrolling,
}

/// A campaign's leads by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct LeadCounts {
    pub pending: u64,
    pub queued: u64,
    pub dialing: u64,
    pub completed: u64,
    pub retry_scheduled: u64,
    pub skipped: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl LeadCounts {
    /// Leads the dialer still has work for.
    pub fn open(&self) -> u64 {
        self.pending + self.queued + self.dialing + self.retry_scheduled
    }
}

/// A campaign's attempts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct OutcomeCounts {
    pub answered: u64,
    pub no_answer: u64,
    pub busy: u64,
    pub voicemail: u64,
    pub failed: u64,
    pub no_report: u64,
}

/// How far loading the lists' leads has come: the list being read and where in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Enrollment {
    /// Each committed page counts one: a page commits only from the round it read.
    pub round: u64,
    /// Index into `leadListIds`.
    pub list: u32,
    /// Where the next page of that list starts.
    pub cursor: Option<String>,
    pub done: bool,
    /// Leads enrolled (a number in two lists counts once).
    pub enrolled: u64,
    /// Of them, leads of a marketing campaign without written consent (skipped `noConsent`).
    pub no_consent: u64,
}
