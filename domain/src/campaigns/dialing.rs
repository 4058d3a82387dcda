//! A campaign's leads as the dialer moves them, and the attempts it makes.
//!
//! A campaign lead moves `pending → queued → dialing → completed | retryScheduled | skipped |
//! failed | cancelled`. While pending, queued or dialing it sits in the campaign's sparse `due`
//! index at the moment the scheduler must look at it again: its next attempt, a queued job that
//! may have been lost, or a dialing lease that may have expired.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::windows::Permit;

/// Where a lead is in a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LeadStatus {
    Pending,
    /// A dial job is on the queue.
    Queued,
    /// A call is live (a lease is held).
    Dialing,
    Completed,
    RetryScheduled,
    Skipped,
    Failed,
    Cancelled,
}

impl LeadStatus {
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Queued,
        Self::Dialing,
        Self::Completed,
        Self::RetryScheduled,
        Self::Skipped,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The counter of this status on the campaign.
    pub fn counter(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Dialing => "dialing",
            Self::Completed => "completed",
            Self::RetryScheduled => "retryScheduled",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Statuses the scheduler still looks at.
    pub fn open(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Queued | Self::Dialing | Self::RetryScheduled
        )
    }
}

/// Why a lead is not called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SkipReason {
    /// On the tenant's do-not-call list (at enrolment or at the dial).
    Suppressed,
    /// A marketing campaign and no written consent.
    NoConsent,
    /// The state's daily cap on calls to one number is reached for good (the campaign ended).
    DailyCap,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Answered,
    NoAnswer,
    Busy,
    Voicemail,
    Failed,
    /// The call never reported back; its lease expired.
    NoReport,
}

impl Outcome {
    pub fn counter(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::NoAnswer => "noAnswer",
            Self::Busy => "busy",
            Self::Voicemail => "voicemail",
            Self::Failed => "failed",
            Self::NoReport => "noReport",
        }
    }

    /// The outcome of Twilio's final `CallStatus` (and `AnsweredBy` when machine detection ran).
    pub fn from_twilio(call_status: &str, answered_by: Option<&str>) -> Option<Self> {
        let machine = answered_by.is_some_and(|a| a.starts_with("machine") || a == "fax");
        Some(match call_status {
            "completed" if machine => Self::Voicemail,
            "completed" => Self::Answered,
            "busy" => Self::Busy,
            "no-answer" => Self::NoAnswer,
            "failed" | "canceled" => Self::Failed,
            _ => return None,
        })
    }

    /// The outcome of a call the runtime reports ended (one placed through LiveKit, which
    /// reports no status of its own): the `ended` reason when it names one, else answered or
    /// not as the call was.
    pub fn from_runtime(reason: Option<&str>, answered: bool) -> Self {
        match reason.map(str::trim) {
            Some("busy") => Self::Busy,
            Some("no_answer" | "no-answer") => Self::NoAnswer,
            Some("voicemail" | "machine") => Self::Voicemail,
            Some("failed") => Self::Failed,
            _ if answered => Self::Answered,
            _ => Self::NoAnswer,
        }
    }
}

/// One lead of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignLead {
    pub campaign_id: uuid::Uuid,
    pub list_id: uuid::Uuid,
    /// The lead's id in its list (its number's digits).
    pub lead_id: String,
    /// E.164.
    pub phone_number: String,
    pub status: LeadStatus,
    pub skip_reason: Option<SkipReason>,
    /// Attempts made (a dial job claims attempt `attempts + 1`).
    pub attempts: u32,
    pub last_outcome: Option<Outcome>,
    /// When it may be dialed next (pending and retries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the live call's lease runs out.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Dials within the last 24 hours (for states that cap them).
    #[serde(default)]
    pub recent_dials: Vec<DateTime<Utc>>,
    /// The lead's time zone when it was enrolled: the tick's guide (a dial reads the list's
    /// lead again, so a zone corrected later is the one the law is checked against).
    #[serde(default)]
    pub timezone: Option<crate::leads::timezones::LeadTimezone>,
    /// A terminal disposition ended the lead's campaign: no further attempt.
    #[serde(default)]
    pub closed: bool,
    pub updated_at: DateTime<Utc>,
}

/// One dial of a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub campaign_id: uuid::Uuid,
    /// The lead's number's digits.
    pub lead_id: String,
    pub attempt: u32,
    /// Twilio's CallSid, once the call was placed.
    pub call_sid: Option<String>,
    /// E.164 the call came from.
    pub caller_id: String,
    pub outcome: Option<Outcome>,
    /// Twilio's error or SIP code, when the call failed with one.
    pub error_code: Option<String>,
    /// Twilio's `AnsweredBy` (machine detection).
    pub answered_by: Option<String>,
    /// Why the law and the schedule allowed it.
    pub permit: Permit,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The code of the call's disposition, as the runtime last reported it.
    #[serde(default)]
    pub disposition: Option<String>,
    /// The agent version the call runs (the campaign's pin or split, else the agent's active
    /// version at the dial).
    #[serde(default)]
    pub agent_version_id: Option<gobi_shared::ids::AgentVersionId>,
}

/// Where a lead goes after an attempt with `outcome` (its `attempts`-th): done, or due again
/// after the outcome's delay while the campaign's budget lasts.
pub fn after_attempt(
    outcome: Outcome,
    attempts: u32,
    retry: &super::model::RetryPolicy,
    now: DateTime<Utc>,
) -> (LeadStatus, Option<DateTime<Utc>>) {
    let rule = match outcome {
        Outcome::Answered => return (LeadStatus::Completed, None),
        Outcome::NoAnswer => retry.no_answer,
        Outcome::Busy => retry.busy,
        Outcome::Voicemail => retry.voicemail,
        Outcome::Failed | Outcome::NoReport => retry.failed,
    };
    if rule.retry && attempts < retry.max_attempts {
        let at = now + chrono::Duration::minutes(i64::from(rule.delay_minutes));
        return (LeadStatus::RetryScheduled, Some(at));
    }
    match outcome {
        Outcome::Voicemail => (LeadStatus::Completed, None),
        _ => (LeadStatus::Failed, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::model::RetryPolicy;

    #[test]
    fn twilio_statuses_map_to_outcomes() {
        assert_eq!(
            Outcome::from_twilio("completed", None),
            Some(Outcome::Answered)
        );
        assert_eq!(
            Outcome::from_twilio("completed", Some("human")),
            Some(Outcome::Answered)
        );
        assert_eq!(
            Outcome::from_twilio("completed", Some("machine_end_beep")),
            Some(Outcome::Voicemail)
        );
        assert_eq!(Outcome::from_twilio("busy", None), Some(Outcome::Busy));
        assert_eq!(
            Outcome::from_twilio("no-answer", None),
            Some(Outcome::NoAnswer)
        );
        assert_eq!(Outcome::from_twilio("failed", None), Some(Outcome::Failed));
        assert_eq!(Outcome::from_twilio("ringing", None), None, "not final");
    }

    #[test]
    fn runtime_reasons_map_to_outcomes() {
        assert_eq!(Outcome::from_runtime(Some("busy"), false), Outcome::Busy);
        assert_eq!(
            Outcome::from_runtime(Some("no_answer"), false),
            Outcome::NoAnswer
        );
        assert_eq!(
            Outcome::from_runtime(Some("voicemail"), true),
            Outcome::Voicemail
        );
        assert_eq!(
            Outcome::from_runtime(Some("failed"), false),
            Outcome::Failed
        );
        assert_eq!(
            Outcome::from_runtime(Some("caller_hung_up"), true),
            Outcome::Answered
        );
        assert_eq!(Outcome::from_runtime(None, false), Outcome::NoAnswer);
    }

    #[test]
    fn retries_stay_inside_the_budget_and_the_outcomes_rule() {
        let now: DateTime<Utc> = "2026-11-23T15:00:00Z".parse().unwrap();
        let policy = RetryPolicy::default(); // 3 attempts; busy after 15 min; voicemail never
        assert_eq!(
            after_attempt(Outcome::Busy, 1, &policy, now),
            (
                LeadStatus::RetryScheduled,
                Some(now + chrono::Duration::minutes(15))
            )
        );
        assert_eq!(
            after_attempt(Outcome::Busy, 3, &policy, now),
            (LeadStatus::Failed, None),
            "the third attempt was the last, whatever the outcome's own rule says"
        );
        assert_eq!(
            after_attempt(Outcome::Voicemail, 1, &policy, now),
            (LeadStatus::Completed, None)
        );
        assert_eq!(
            after_attempt(Outcome::Answered, 1, &policy, now),
            (LeadStatus::Completed, None)
        );
        assert_eq!(
            after_attempt(Outcome::NoReport, 1, &policy, now).0,
            LeadStatus::RetryScheduled,
            "a call that never reported is retried as a failure"
        );
    }
}
