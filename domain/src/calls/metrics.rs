//! Call metrics, kept as counters when calls change (never a Scan): for the tenant and for each
//! agent, agent version, campaign and phone number of a call, by hour and by day in the tenant's
//! time zone. Every change of a call that moves a figure adds to the counters of every scope the
//! call belongs to in the same transaction as the change itself, guarded by the same condition,
//! so a counter moves exactly once however events repeat or arrive out of order.
//!
//! Items: `TENANT#<id>` / `METRIC#<interval>#<dimension>#<period>#<key>`, where the period is the
//! local day (`2026-11-22`) or hour (`2026-11-22T14`) the call began in, and the key the agent,
//! version or campaign id, the number (E.164), or `-` for the tenant itself. A range of one
//! dimension is one Query.

use std::collections::BTreeMap;

use crate::zone::Zone;

use super::*;

/// What the figures are grouped by.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Dimension {
    /// The tenant as a whole.
    #[default]
    Tenant,
    Agent,
    Version,
    Campaign,
    Number,
}

impl Dimension {
    fn key(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Agent => "agent",
            Self::Version => "version",
            Self::Campaign => "campaign",
            Self::Number => "number",
        }
    }
}

/// How long each period of a series is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Interval {
    Hour,
    #[default]
    Day,
}

impl Interval {
    fn key(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// The period a local time falls in: `2026-11-22` or `2026-11-22T14`.
    pub fn period_of(self, local: chrono::NaiveDateTime) -> String {
        match self {
            Self::Hour => local.format("%Y-%m-%dT%H").to_string(),
            Self::Day => local.format("%Y-%m-%d").to_string(),
        }
    }
}

/// The key of the tenant's own counters (the tenant dimension has one member).
pub const TENANT_KEY: &str = "-";

/// Upper bounds (seconds) of the talk-time histogram's buckets; one more bucket holds longer
/// calls. Percentiles are read from it, so they are estimates within a bucket.
pub const TALK_BUCKETS: [u32; 9] = [15, 30, 60, 120, 180, 300, 600, 900, 1800];

/// The counter of the talk-time bucket `seconds` falls in (`talk_0` … `talk_9`).
pub fn talk_bucket(seconds: u32) -> String {
    let index = TALK_BUCKETS
        .iter()
        .position(|upper| seconds <= *upper)
        .unwrap_or(TALK_BUCKETS.len());
    format!("talk_{index}")
}

/// Who a call counts for, and when: read off a call ([`Call::metric_scope`]), or made by the
/// dialer for a dial that never became a call (no answer, busy, failed).
#[derive(Debug, Clone)]
pub struct MetricScope {
    pub tenant: TenantId,
    pub agent: Option<AgentId>,
    pub version: Option<AgentVersionId>,
    pub campaign: Option<uuid::Uuid>,
    /// The tenant's own number on the call (inbound: the one called; outbound: the caller id).
    pub number: Option<String>,
    /// The tenant's time zone when the call began (absent: UTC).
    pub timezone: Option<String>,
    /// When the call began: the hour and day it counts in.
    pub at: DateTime<Utc>,
}

impl MetricScope {
    /// The local time the call began, in the scope's zone.
    fn local(&self) -> chrono::NaiveDateTime {
        let zone = self
            .timezone
            .as_deref()
            .and_then(Zone::named)
            .unwrap_or(Zone::UTC);
        self.at.with_timezone(&zone).naive_local()
    }

    /// Every (dimension, key) the call belongs to.
    fn members(&self) -> Vec<(Dimension, String)> {
        let mut members = vec![(Dimension::Tenant, TENANT_KEY.to_owned())];
        members.extend(self.agent.map(|a| (Dimension::Agent, a.to_string())));
        members.extend(self.version.map(|v| (Dimension::Version, v.to_string())));
        members.extend(self.campaign.map(|c| (Dimension::Campaign, c.to_string())));
        members.extend(self.number.clone().map(|n| (Dimension::Number, n)));
        members
    }
}

fn metric_sk(interval: Interval, dimension: Dimension, period: &str, key: &str) -> String {
    format!(
        "METRIC#{}#{}#{period}#{key}",
        interval.key(),
        dimension.key()
    )
}

impl CallStore {
    /// The updates that add `adds` to every counter item of `scope` (each dimension it belongs
    /// to, by hour and by day), to go into the transaction of the change they count.
    pub fn count(
        &self,
        scope: &MetricScope,
        adds: &[(&str, i64)],
    ) -> anyhow::Result<Vec<TransactWriteItem>> {
        let local = scope.local();
        let mut updates = Vec::new();
        for interval in [Interval::Hour, Interval::Day] {
            let period = interval.period_of(local);
            for (dimension, key) in scope.members() {
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(dynamo::key(
                        keys::tenant(scope.tenant),
                        metric_sk(interval, dimension, &period, &key),
                    )))
                    .update_expression(format!(
                        "SET #period = :period, #member = :member ADD {}",
                        (0..adds.len())
                            .map(|i| format!("#c{i} :c{i}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    // Both are DynamoDB reserved words.
                    .expression_attribute_names("#period", "period")
                    .expression_attribute_names("#member", "member")
                    .expression_attribute_values(":period", s(&period))
                    .expression_attribute_values(":member", s(&key));
                for (i, (name, value)) in adds.iter().enumerate() {
                    update = update
                        .expression_attribute_names(format!("#c{i}"), *name)
                        .expression_attribute_values(
                            format!(":c{i}"),
                            AttributeValue::N(value.to_string()),
                        );
                }
                updates.push(TransactWriteItem::builder().update(update.build()?).build());
            }
        }
        Ok(updates)
    }

    /// Counts a tool execution on its call.
    pub async fn count_execution(&self, call: &Call, succeeded: bool) -> StoreResult<()> {
        let items = self.execution_counts(call, succeeded)?;
        dynamo::transact(&self.client, items, Backoff::default())
            .await
            .map_err(|e| StoreError::Dynamo(anyhow::Error::new(e).context("counting an execution")))
    }

    /// The counter updates of one tool execution of `call`, for a transaction.
    pub fn execution_counts(
        &self,
        call: &Call,
        succeeded: bool,
    ) -> anyhow::Result<Vec<TransactWriteItem>> {
        let adds: &[(&str, i64)] = if succeeded {
            &[("tool_executions", 1), ("tool_succeeded", 1)]
        } else {
            &[("tool_executions", 1)]
        };
        self.count(&call.metric_scope(), adds)
    }

    /// The counters of one dimension from period `from` to period `to` (inclusive; a day names
    /// its hours too), every member that has any: one Query (paged).
    pub async fn metrics(
        &self,
        tenant: TenantId,
        interval: Interval,
        dimension: Dimension,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<MetricRow>> {
        let items = dynamo::query_between(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            // Every period from `from` on (a day's hours, `…T05`, sort after the bare day)…
            format!("METRIC#{}#{}#{from}", interval.key(), dimension.key()),
            // …up to `to` and its hours: `~` sorts after `#`, `T` and every key character.
            format!("METRIC#{}#{}#{to}~", interval.key(), dimension.key()),
            "reading call metrics",
        )
        .await?;
        Ok(items.iter().filter_map(MetricRow::from_item).collect())
    }
}

/// One member's counters for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub period: String,
    pub member: String,
    pub counters: Counters,
}

impl MetricRow {
    fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let mut counters = Counters::default();
        for (name, value) in item {
            if let Some(n) = value.as_n().ok().and_then(|n| n.parse::<i64>().ok()) {
                counters.set(name, u64::try_from(n).unwrap_or(0));
            }
        }
        Some(Self {
            period: text("period")?,
            member: text("member")?,
            counters,
        })
    }
}

/// Counters as stored, summed over any number of periods or members.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    pub calls: u64,
    pub answered: u64,
    /// Answered by a machine (Twilio's `AnsweredBy`).
    pub voicemail: u64,
    /// Talk time of the calls that ended answered.
    pub talk_seconds: u64,
    /// Ended answered calls by talk-time bucket ([`TALK_BUCKETS`], then longer).
    pub talk: [u64; TALK_BUCKETS.len() + 1],
    pub transfers: u64,
    /// Calls whose disposition is a `success` one.
    pub successes: u64,
    pub tool_executions: u64,
    pub tool_succeeded: u64,
    /// Calls by disposition code.
    pub dispositions: BTreeMap<String, u64>,
}

impl Counters {
    fn set(&mut self, name: &str, value: u64) {
        match name {
            "calls" => self.calls = value,
            "answered" => self.answered = value,
            "voicemail" => self.voicemail = value,
            "duration_seconds" => self.talk_seconds = value,
            "transfers" => self.transfers = value,
            "successes" => self.successes = value,
            "tool_executions" => self.tool_executions = value,
            "tool_succeeded" => self.tool_succeeded = value,
            other => {
                if let Some(code) = other.strip_prefix(DISPOSITION_COUNTER_PREFIX) {
                    if value > 0 {
                        self.dispositions.insert(code.to_owned(), value);
                    }
                } else if let Some(slot) = other
                    .strip_prefix("talk_")
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| self.talk.get_mut(i))
                {
                    *slot = value;
                }
            }
        }
    }

    pub fn add(&mut self, other: &Counters) {
        self.calls += other.calls;
        self.answered += other.answered;
        self.voicemail += other.voicemail;
        self.talk_seconds += other.talk_seconds;
        for (sum, n) in self.talk.iter_mut().zip(other.talk) {
            *sum += n;
        }
        self.transfers += other.transfers;
        self.successes += other.successes;
        self.tool_executions += other.tool_executions;
        self.tool_succeeded += other.tool_succeeded;
        for (code, n) in &other.dispositions {
            *self.dispositions.entry(code.clone()).or_default() += n;
        }
    }

    /// The talk time below which a share `q` (0 to 1) of the ended answered calls fall, read from
    /// the histogram (linear within a bucket; the longest bucket answers its lower bound).
    /// `None` when no answered call has ended.
    pub fn talk_percentile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.talk.iter().sum();
        if total == 0 {
            return None;
        }
        let target = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0.0;
        let mut lower = 0.0;
        for (i, count) in self.talk.iter().enumerate() {
            let count = *count as f64;
            let Some(upper) = TALK_BUCKETS.get(i).map(|u| f64::from(*u)) else {
                return Some(lower);
            };
            if count > 0.0 && below + count >= target {
                return Some(lower + (target - below) / count * (upper - lower));
            }
            below += count;
            lower = upper;
        }
        Some(lower)
    }
}

/// `n / d`, 0 when `d` is.
pub fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// Figures of one period, member or range, as the API shows them.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricSummary {
    pub calls: u64,
    pub answered: u64,
    /// answered / calls.
    pub answer_rate: f64,
    pub voicemail: u64,
    /// voicemail / calls.
    pub voicemail_rate: f64,
    pub talk_seconds: u64,
    /// Over answered calls that ended.
    pub average_talk_seconds: f64,
    /// From a histogram of talk times (estimates within its buckets); absent with no ended call.
    pub p50_talk_seconds: Option<f64>,
    pub p90_talk_seconds: Option<f64>,
    pub transfers: u64,
    /// Calls with a `success` disposition.
    pub successes: u64,
    /// successes / answered.
    pub success_rate: f64,
    /// Calls by disposition code.
    pub dispositions: BTreeMap<String, u64>,
    pub tool_executions: u64,
    pub tool_failures: u64,
    /// tool_failures / tool_executions.
    pub tool_failure_rate: f64,
}

impl From<&Counters> for MetricSummary {
    fn from(c: &Counters) -> Self {
        let ended: u64 = c.talk.iter().sum();
        let failures = c.tool_executions.saturating_sub(c.tool_succeeded);
        Self {
            calls: c.calls,
            answered: c.answered,
            answer_rate: ratio(c.answered, c.calls),
            voicemail: c.voicemail,
            voicemail_rate: ratio(c.voicemail, c.calls),
            talk_seconds: c.talk_seconds,
            average_talk_seconds: ratio(c.talk_seconds, ended),
            p50_talk_seconds: c.talk_percentile(0.5),
            p90_talk_seconds: c.talk_percentile(0.9),
            transfers: c.transfers,
            successes: c.successes,
            success_rate: ratio(c.successes, c.answered),
            dispositions: c.dispositions.clone(),
            tool_executions: c.tool_executions,
            tool_failures: failures,
            tool_failure_rate: ratio(failures, c.tool_executions),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn talk_times_fall_in_their_buckets() {
        assert_eq!(talk_bucket(0), "talk_0");
        assert_eq!(talk_bucket(15), "talk_0");
        assert_eq!(talk_bucket(16), "talk_1");
        assert_eq!(talk_bucket(1800), "talk_8");
        assert_eq!(talk_bucket(5000), "talk_9");
    }

    #[test]
    fn percentiles_interpolate_inside_a_bucket() {
        let mut c = Counters::default();
        // 10 calls of 30-60 s, 10 of 60-120 s.
        c.talk[2] = 10;
        c.talk[3] = 10;
        assert_eq!(c.talk_percentile(0.5), Some(60.0));
        assert_eq!(c.talk_percentile(0.25), Some(45.0));
        assert_eq!(c.talk_percentile(0.9), Some(108.0));
        c.talk[9] = 100;
        assert_eq!(c.talk_percentile(0.99), Some(1800.0));
        assert_eq!(Counters::default().talk_percentile(0.5), None);
    }

    #[test]
    fn hours_and_days_are_the_tenants_local_ones() {
        let scope = MetricScope {
            tenant: TenantId::new(),
            agent: None,
            version: None,
            campaign: None,
            number: None,
            timezone: Some("America/New_York".into()),
            at: "2026-11-23T03:30:00Z".parse().expect("a time"),
        };
        let local = scope.local();
        assert_eq!(Interval::Day.period_of(local), "2026-11-22");
        assert_eq!(Interval::Hour.period_of(local), "2026-11-22T22");
    }
}
