//! Bodies of the campaign routes and their validation against the tenant's own objects.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use gobi_domain::agents::store::AgentStore;
use gobi_domain::campaigns::model::{
    Campaign, CircuitBreaker, Direction, Pacing, Purpose, RetryPolicy, VoicemailAction,
};
use gobi_domain::campaigns::windows::{Schedule, Window};
use gobi_domain::leads::store::LeadStore;
use gobi_domain::phone_numbers::store::PhoneNumberStore;
use gobi_domain::tenants::model::Tenant;
use gobi_shared::error::{ApiResult, Problems};
use gobi_shared::ids::{AgentId, AgentVersionId, E164};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use gobi_domain::campaigns::model::{CampaignState, VersionWeight};

/// Lead lists a campaign calls, at most.
pub const MAX_LISTS: usize = 20;
/// Caller ids a campaign rotates, at most.
pub const MAX_CALLER_IDS: usize = 20;
const MAX_WINDOWS: usize = 14;
const MAX_BLACKOUT_DATES: usize = 366;
const MAX_VARIABLES: usize = 50;

/// `POST /api/tenants/{id}/campaigns` and `PUT .../{campaignId}`: a create needs `name` and
/// `agentId`; an outbound one also `schedule`, `leadListIds` and `callerIds`, an inbound one
/// `callerIds` (its numbers; its `schedule`'s `startAt`/`endAt` bound when it holds them). An
/// update changes only the fields sent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignFields {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Spring renewals"
    )]
    pub name: Option<String>,
    pub direction: Option<Direction>,
    pub purpose: Option<Purpose>,
    pub agent_id: Option<AgentId>,
    pub agent_version_id: Option<AgentVersionId>,
    /// Split the calls between versions of the agent by weight (2 to 5 versions; instead of a
    /// pinned `agentVersionId`); each lead always gets the same version. `[]` clears it.
    #[schema(max_items = 5)]
    pub version_split: Option<Vec<VersionWeight>>,
    #[schema(max_items = 20)]
    pub lead_list_ids: Option<Vec<uuid::Uuid>>,
    /// The tenant's own active numbers, E.164: an outbound campaign's calls come from them in
    /// turn; an inbound campaign's are the numbers whose calls carry it while it runs.
    #[schema(max_items = 20, example = json!(["+14155550100"]))]
    pub caller_ids: Option<Vec<String>>,
    pub schedule: Option<ScheduleFields>,
    pub pacing: Option<Pacing>,
    pub retry: Option<RetryPolicy>,
    pub voicemail: Option<VoicemailAction>,
    pub variables: Option<BTreeMap<String, String>>,
    pub circuit_breaker: Option<CircuitBreaker>,
}

/// When the campaign calls (see `Schedule`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleFields {
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    pub end_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(min_items = 1, max_items = 14)]
    pub windows: Vec<Window>,
    /// IANA zone for leads whose number names none.
    #[schema(example = "America/New_York")]
    pub timezone: String,
    #[serde(default)]
    #[schema(max_items = 366)]
    pub blackout_dates: Vec<NaiveDate>,
}

/// `GET /api/tenants/{id}/campaigns`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CampaignsQuery {
    /// 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From the previous page's `nextCursor`.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
    /// Only campaigns in this state (of the page read).
    pub state: Option<CampaignState>,
}

/// A page of campaigns.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignsPage {
    pub data: Vec<Campaign>,
    pub next_cursor: Option<String>,
}

/// `POST .../start` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Marketing campaigns: skip leads without written consent (`noConsent`) instead of
    /// refusing to start.
    #[serde(default)]
    pub skip_without_consent: bool,
}

fn schedule(p: &mut Problems, fields: ScheduleFields) -> Option<Schedule> {
    if fields.windows.is_empty() || fields.windows.len() > MAX_WINDOWS {
        p.push(
            "schedule.windows",
            format!("must have 1 to {MAX_WINDOWS} windows"),
        );
    }
    for (i, window) in fields.windows.iter().enumerate() {
        if window.days.is_empty() {
            p.push(format!("schedule.windows[{i}].days"), "must name a day");
        }
        if window.start >= window.end {
            p.push(
                format!("schedule.windows[{i}]"),
                "must end after it starts (windows do not span midnight)",
            );
        }
    }
    if gobi_domain::leads::timezones::iana(&fields.timezone).is_none() {
        p.push(
            "schedule.timezone",
            "must be an IANA time zone like America/New_York",
        );
    }
    if fields.blackout_dates.len() > MAX_BLACKOUT_DATES {
        p.push(
            "schedule.blackoutDates",
            format!("at most {MAX_BLACKOUT_DATES}"),
        );
    }
    if let (Some(start), Some(end)) = (fields.start_at, fields.end_at) {
        if end <= start {
            p.push("schedule.endAt", "must be after startAt");
        }
    }
    Some(Schedule {
        start_at: fields.start_at,
        end_at: fields.end_at,
        windows: fields.windows,
        timezone: fields.timezone,
        blackout_dates: fields.blackout_dates,
    })
}

fn bounded(p: &mut Problems, field: &str, value: u32, range: std::ops::RangeInclusive<u32>) {
    if !range.contains(&value) {
        p.push(
            field,
            format!("must be {} to {}", range.start(), range.end()),
        );
    }
}

/// The stores a campaign's references are checked against.
pub struct References<'a> {
    pub agents: &'a AgentStore,
    pub leads: &'a LeadStore,
    pub numbers: &'a PhoneNumberStore,
}

impl CampaignFields {
    /// `campaign` with these fields applied, its shape checked (references are checked by
    /// [`check_references`]).
    pub fn apply(self, mut campaign: Campaign) -> ApiResult<Campaign> {
        let mut p = Problems::default();
        if let Some(name) = self.name {
            if let Some(name) = p.check("name", gobi_shared::text::required(&name, 200)) {
                campaign.name = name;
            }
        }
        if let Some(direction) = self.direction {
            campaign.direction = direction;
        }
        if let Some(purpose) = self.purpose {
            campaign.purpose = purpose;
        }
        if let Some(agent) = self.agent_id {
            campaign.agent_id = agent;
        }
        if self.agent_version_id.is_some() {
            campaign.agent_version_id = self.agent_version_id;
        }
        if let Some(split) = self.version_split {
            let mut versions: Vec<_> = split.iter().map(|v| v.agent_version_id).collect();
            versions.sort();
            versions.dedup();
            if split.len() == 1 || split.len() > 5 {
                p.push("versionSplit", "must name 2 to 5 versions (or none)");
            } else if versions.len() != split.len() {
                p.push("versionSplit", "names a version twice");
            } else if split.iter().any(|v| !(1..=100).contains(&v.weight)) {
                p.push("versionSplit", "weights are 1 to 100");
            }
            campaign.version_split = split;
        }
        if campaign.agent_version_id.is_some() && !campaign.version_split.is_empty() {
            p.push(
                "versionSplit",
                "a campaign pins one version (agentVersionId) or splits between several, not both",
            );
        }
        if let Some(lists) = self.lead_list_ids {
            p.check_batch("leadListIds", lists.len(), MAX_LISTS);
            let mut unique = lists.clone();
            unique.sort();
            unique.dedup();
            if unique.len() != lists.len() {
                p.push("leadListIds", "names a list twice");
            }
            campaign.lead_list_ids = lists;
        }
        if let Some(raw) = self.caller_ids {
            p.check_batch("callerIds", raw.len(), MAX_CALLER_IDS);
            campaign.caller_ids = raw
                .iter()
                .enumerate()
                .filter_map(|(i, n)| p.check(&format!("callerIds[{i}]"), E164::parse(n)))
                .collect();
        }
        if let Some(fields) = self.schedule {
            if let Some(schedule) = schedule(&mut p, fields) {
                campaign.schedule = schedule;
            }
        }
        if let Some(pacing) = self.pacing {
            bounded(
                &mut p,
                "pacing.maxConcurrency",
                pacing.max_concurrency,
                1..=1000,
            );
            bounded(
                &mut p,
                "pacing.maxCallsPerSecond",
                pacing.max_calls_per_second,
                1..=50,
            );
            campaign.pacing = pacing;
        }
        if let Some(retry) = self.retry {
            bounded(&mut p, "retry.maxAttempts", retry.max_attempts, 1..=10);
            for (name, outcome) in [
                ("noAnswer", retry.no_answer),
                ("busy", retry.busy),
                ("voicemail", retry.voicemail),
                ("failed", retry.failed),
            ] {
                bounded(
                    &mut p,
                    &format!("retry.{name}.delayMinutes"),
                    outcome.delay_minutes,
                    1..=10080,
                );
            }
            campaign.retry = retry;
        }
        if let Some(voicemail) = self.voicemail {
            campaign.voicemail = voicemail;
        }
        if let Some(variables) = self.variables {
            p.check_batch("variables", variables.len(), MAX_VARIABLES);
            if variables
                .iter()
                .any(|(k, v)| k.is_empty() || k.len() > 64 || v.len() > 1024)
            {
                p.push(
                    "variables",
                    "names must be 1 to 64 bytes, values at most 1024",
                );
            }
            campaign.variables = variables;
        }
        if let Some(breaker) = self.circuit_breaker {
            bounded(
                &mut p,
                "circuitBreaker.failurePercent",
                breaker.failure_percent,
                1..=100,
            );
            bounded(&mut p, "circuitBreaker.window", breaker.window, 10..=1000);
            campaign.circuit_breaker = Some(breaker);
        }
        p.finish()?;
        Ok(campaign)
    }
}

/// Checks what `campaign` names against the tenant: its agent and pinned version, its lead
/// lists, its caller ids (the tenant's own active numbers), and its concurrency within the
/// tenant's `maxConcurrentCalls`.
pub async fn check_references(
    stores: References<'_>,
    tenant: &Tenant,
    campaign: &Campaign,
) -> ApiResult<()> {
    let mut p = Problems::default();
    match stores.agents.get(tenant.id, campaign.agent_id).await? {
        None => p.push("agentId", "no such agent in this tenant"),
        Some(_) => {
            for (i, share) in campaign.version_split.iter().enumerate() {
                if stores
                    .agents
                    .version(tenant.id, campaign.agent_id, share.agent_version_id)
                    .await?
                    .is_none()
                {
                    p.push(
                        format!("versionSplit[{i}].agentVersionId"),
                        "no such version of the agent",
                    );
                }
            }
            if let Some(version) = campaign.agent_version_id {
                if stores
                    .agents
                    .version(tenant.id, campaign.agent_id, version)
                    .await?
                    .is_none()
                {
                    p.push("agentVersionId", "no such version of the agent");
                }
            }
        }
    }
    for (i, list) in campaign.lead_list_ids.iter().enumerate() {
        if stores.leads.list(tenant.id, *list).await?.is_none() {
            p.push(
                format!("leadListIds[{i}]"),
                "no such lead list in this tenant",
            );
        }
    }
    let own: Vec<E164> = stores
        .numbers
        .list(tenant.id)
        .await?
        .into_iter()
        .filter(|n| n.is_active())
        .map(|n| n.e164)
        .collect();
    for (i, number) in campaign.caller_ids.iter().enumerate() {
        if !own.contains(number) {
            p.push(
                format!("callerIds[{i}]"),
                "not an active number of this tenant",
            );
        }
    }
    if campaign.direction == Direction::Outbound && !campaign.single_call {
        if campaign.lead_list_ids.is_empty() {
            p.push("leadListIds", "an outbound campaign needs a lead list");
        }
        if campaign.caller_ids.is_empty() {
            p.push("callerIds", "an outbound campaign needs a caller id");
        }
    }
    if campaign.direction == Direction::Inbound && campaign.caller_ids.is_empty() {
        p.push(
            "callerIds",
            "an inbound campaign needs a number (its calls carry the campaign)",
        );
    }
    if campaign.pacing.max_concurrency > tenant.max_concurrent_calls {
        p.push(
            "pacing.maxConcurrency",
            format!(
                "must be at most the tenant's maxConcurrentCalls ({})",
                tenant.max_concurrent_calls
            ),
        );
    }
    p.finish()
}

/// The settings a new campaign starts from before its fields are applied.
pub fn blank(
    tenant: &Tenant,
    agent: AgentId,
    id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Campaign {
    Campaign {
        id,
        tenant_id: tenant.id,
        name: String::new(),
        direction: Direction::Outbound,
        purpose: Purpose::Informational,
        agent_id: agent,
        agent_version_id: None,
        version_split: Vec::new(),
        lead_list_ids: Vec::new(),
        caller_ids: Vec::new(),
        schedule: Schedule {
            start_at: None,
            end_at: None,
            windows: Vec::new(),
            timezone: "America/New_York".into(),
            blackout_dates: Vec::new(),
        },
        pacing: Pacing {
            max_concurrency: tenant.max_concurrent_calls.min(5),
            max_calls_per_second: 1,
        },
        retry: RetryPolicy::default(),
        voicemail: VoicemailAction::Hangup,
        variables: BTreeMap::new(),
        circuit_breaker: None,
        skip_without_consent: false,
        state: CampaignState::Draft,
        pause_reason: None,
        dialing_state: None,
        counts: Default::default(),
        outcomes: Default::default(),
        live_calls: 0,
        enrollment: Default::default(),
        recent_outcomes: Vec::new(),
        single_call: false,
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
    }
}

/// `GET .../campaigns/{campaignId}/leads`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CampaignLeadsQuery {
    /// 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From the previous page's `nextCursor`.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
    pub status: Option<gobi_domain::campaigns::dialing::LeadStatus>,
}

/// A page of a campaign's leads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignLeadsPage {
    pub data: Vec<gobi_domain::campaigns::dialing::CampaignLead>,
    pub next_cursor: Option<String>,
}

/// `POST /api/tenants/{id}/calls`: one outbound call now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceCall {
    pub agent_id: AgentId,
    pub agent_version_id: Option<AgentVersionId>,
    /// E.164 of the person to call.
    #[schema(example = "+14155550100")]
    pub to: String,
    /// One of the tenant's own active numbers.
    #[schema(example = "+15557660001")]
    pub caller_id: String,
    /// For the agent (at most 50).
    pub variables: Option<BTreeMap<String, String>>,
}

/// A call placed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallPlaced {
    /// The one-lead campaign that holds its attempt (`.../campaigns/{campaignId}/leads/...`).
    pub campaign_id: uuid::Uuid,
    pub call_sid: String,
    pub to: String,
    pub caller_id: String,
}
