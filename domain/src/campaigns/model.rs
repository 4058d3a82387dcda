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

/// A share of a campaign's calls for one version of its agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionWeight {
    pub agent_version_id: AgentVersionId,
    /// Relative to the other versions' weights.
    #[schema(minimum = 1, maximum = 100, example = 50)]
    pub weight: u32,
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
    /// Calls split between versions of the agent by weight (instead of one pinned version), each
    /// lead always with the same one, so versions can be compared.
    #[serde(default)]
    pub version_split: Vec<VersionWeight>,
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

impl Campaign {
    /// The version a call to or from `lead_id` (its number's digits) runs ([`pick_version`]).
    pub fn version_for(&self, lead_id: &str) -> Option<AgentVersionId> {
        pick_version(self.id, self.agent_version_id, &self.version_split, lead_id)
    }
}

/// The version a call of campaign `campaign` to or from `lead_id` (its number's digits) runs:
/// the `pinned` one, else the `split`'s pick for the lead (stable: the same lead, the same
/// version), else none (the agent's active version).
pub fn pick_version(
    campaign: uuid::Uuid,
    pinned: Option<AgentVersionId>,
    split: &[VersionWeight],
    lead_id: &str,
) -> Option<AgentVersionId> {
    if pinned.is_some() {
        return pinned;
    }
    let total: u64 = split.iter().map(|v| u64::from(v.weight)).sum();
    if total == 0 {
        return None;
    }
    // FNV-1a over the campaign and the lead: stable across processes and releases.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in campaign.as_bytes().iter().chain(lead_id.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut point = hash % total;
    for share in split {
        let weight = u64::from(share.weight);
        if point < weight {
            return Some(share.agent_version_id);
        }
        point -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_gives_each_lead_one_version_in_proportion() {
        let (a, b) = (AgentVersionId::new(), AgentVersionId::new());
        let campaign = Campaign {
            version_split: vec![
                VersionWeight {
                    agent_version_id: a,
                    weight: 3,
                },
                VersionWeight {
                    agent_version_id: b,
                    weight: 1,
                },
            ],
            ..serde_json::from_value(serde_json::json!({
                "id": uuid::Uuid::nil(), "tenantId": uuid::Uuid::nil(), "name": "n",
                "direction": "outbound", "purpose": "informational", "agentId": uuid::Uuid::nil(),
                "agentVersionId": null, "leadListIds": [], "callerIds": [],
                "schedule": {"windows": [], "timezone": "America/New_York"},
                "pacing": {"maxConcurrency": 1, "maxCallsPerSecond": 1},
                "retry": {}, "voicemail": "hangup", "variables": {}, "circuitBreaker": null,
                "state": "draft", "pauseReason": null,
                "createdAt": "2026-11-22T00:00:00Z", "updatedAt": "2026-11-22T00:00:00Z",
                "startedAt": null, "finishedAt": null
            }))
            .unwrap()
        };
        let picks: Vec<_> = (0..4000)
            .map(|i| campaign.version_for(&format!("1212555{i:04}")))
            .collect();
        let to_a = picks.iter().filter(|p| **p == Some(a)).count();
        assert_eq!(picks.iter().filter(|p| **p == Some(b)).count(), 4000 - to_a);
        assert!(
            (2800..3200).contains(&to_a),
            "{to_a} of 4000 to the weight-3 version"
        );
        assert_eq!(
            campaign.version_for("12125550001"),
            campaign.version_for("12125550001")
        );
        let pinned = Campaign {
            agent_version_id: Some(b),
            ..campaign
        };
        assert_eq!(pinned.version_for("12125550001"), Some(b));
    }
}
