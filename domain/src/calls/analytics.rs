//! Reading the metrics: ranges of days in the tenant's time zone (the last 30 unless named,
//! bounded), figures grouped by a dimension per hour or day, and two versions of an agent
//! compared with a two-proportion z-test on their success rates.

use std::collections::BTreeMap;

use crate::zone::Zone;
use chrono::NaiveDate;
use gobi_shared::error::ApiError;
use utoipa::IntoParams;

use super::*;

/// Days a range covers when the request names none.
pub const DEFAULT_RANGE_DAYS: u64 = 30;
/// The longest range of days.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The longest range of days by hour (744 hours).
pub const MAX_HOURLY_RANGE_DAYS: i64 = 31;

/// A range of whole days in the tenant's time zone, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// `from`/`to` as asked, defaulting to the 30 days that end today in `timezone`; refused
    /// when reversed or longer than `max_days`.
    pub fn resolve(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        timezone: &str,
        now: DateTime<Utc>,
        max_days: i64,
    ) -> Result<Self, ApiError> {
        let zone = Zone::named(timezone).unwrap_or(Zone::UTC);
        let today = now.with_timezone(&zone).date_naive();
        let to = to.unwrap_or(today);
        let from = from.unwrap_or_else(|| {
            to.checked_sub_days(chrono::Days::new(DEFAULT_RANGE_DAYS - 1))
                .unwrap_or(NaiveDate::MIN)
        });
        // Calendar dates as RFC 3339 writes them (years 0000 to 9999): a far-future day has no
        // successor to walk to and would never be a call's day anyway.
        for (field, date) in [("from", from), ("to", to)] {
            if !(0..=9999).contains(&chrono::Datelike::year(&date)) {
                return Err(ApiError::validation(
                    field,
                    "must be a date in years 0000 to 9999",
                ));
            }
        }
        if !(0..max_days).contains(&(to - from).num_days()) {
            return Err(ApiError::validation(
                "to",
                format!("must be on or after from, at most {max_days} days later"),
            ));
        }
        Ok(Self { from, to })
    }

    /// Every day of the range, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        std::iter::successors(Some(self.from), |d| d.succ_opt()).take_while(|d| *d <= self.to)
    }
}

/// `GET …/analytics`: what to group by, per hour or day, over which days.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// `/client/analytics`: platform staff name the tenant (a tenant's users read their own).
    /// Under `/api/tenants/{id}` the path names it, and another here is refused.
    #[serde(rename = "tenant_id")]
    #[param(rename = "tenant_id", value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
    /// What each group is (default: the tenant as one group).
    #[param(rename = "groupBy")]
    pub group_by: Option<Dimension>,
    /// `day` (default) or `hour` (ranges of at most 31 days).
    pub interval: Option<Interval>,
    /// First day in the tenant's time zone, `YYYY-MM-DD`; default: 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (at most 366 days after `from`); default: today in the tenant's zone.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// One period of a group's series.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodFigures {
    /// `2026-11-22` (day) or `2026-11-22T14` (hour), in the tenant's time zone.
    pub period: String,
    #[serde(flatten)]
    pub figures: MetricSummary,
}

/// One agent, version, campaign or number (or the tenant).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupFigures {
    /// The agent, version or campaign id, the number (E.164), or `-` for the tenant.
    pub key: String,
    pub total: MetricSummary,
    /// The periods that had any figure, in order (the others are zeros).
    pub series: Vec<PeriodFigures>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsReport {
    pub group_by: Dimension,
    pub interval: Interval,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The tenant's time zone, which decides where hours and days begin.
    pub timezone: String,
    /// Every group with figures in the range, by key.
    pub groups: Vec<GroupFigures>,
    /// All groups together.
    pub total: MetricSummary,
}

impl CallStore {
    /// The tenant's figures grouped and bucketed as `query` asks: one Query (paged) whatever the
    /// range. `timezone` is the tenant's.
    pub async fn analytics(
        &self,
        tenant: TenantId,
        timezone: &str,
        query: &AnalyticsQuery,
        now: DateTime<Utc>,
    ) -> Result<AnalyticsReport, ApiError> {
        let interval = query.interval.unwrap_or_default();
        let max_days = match interval {
            Interval::Day => MAX_RANGE_DAYS,
            Interval::Hour => MAX_HOURLY_RANGE_DAYS,
        };
        let range = DayRange::resolve(query.from, query.to, timezone, now, max_days)?;
        let group_by = query.group_by.unwrap_or_default();
        let rows = self
            .metrics(
                tenant,
                interval,
                group_by,
                &range.from.to_string(),
                &range.to.to_string(),
            )
            .await?;
        let mut groups: BTreeMap<String, (Counters, Vec<PeriodFigures>)> = BTreeMap::new();
        let mut total = Counters::default();
        for row in rows {
            let (sum, series) = groups.entry(row.member).or_default();
            sum.add(&row.counters);
            total.add(&row.counters);
            series.push(PeriodFigures {
                period: row.period,
                figures: MetricSummary::from(&row.counters),
            });
        }
        Ok(AnalyticsReport {
            group_by,
            interval,
            from: range.from,
            to: range.to,
            timezone: timezone.to_owned(),
            groups: groups
                .into_iter()
                .map(|(key, (sum, mut series))| {
                    series.sort_by(|a, b| a.period.cmp(&b.period));
                    GroupFigures {
                        key,
                        total: MetricSummary::from(&sum),
                        series,
                    }
                })
                .collect(),
            total: MetricSummary::from(&total),
        })
    }

    /// The tenant's own counters of every day of `range` (days without calls are zeros).
    pub async fn daily(
        &self,
        tenant: TenantId,
        range: DayRange,
    ) -> StoreResult<Vec<(NaiveDate, Counters)>> {
        let rows = self
            .metrics(
                tenant,
                Interval::Day,
                Dimension::Tenant,
                &range.from.to_string(),
                &range.to.to_string(),
            )
            .await?;
        let by_day: BTreeMap<String, Counters> =
            rows.into_iter().map(|r| (r.period, r.counters)).collect();
        Ok(range
            .days()
            .map(|day| {
                let counters = by_day.get(&day.to_string()).cloned().unwrap_or_default();
                (day, counters)
            })
            .collect())
    }

    /// Two versions' figures over `range` (the version dimension, by day: one Query).
    pub async fn compare_versions(
        &self,
        tenant: TenantId,
        versions: (AgentVersionId, AgentVersionId),
        range: DayRange,
    ) -> StoreResult<(Counters, Counters)> {
        let rows = self
            .metrics(
                tenant,
                Interval::Day,
                Dimension::Version,
                &range.from.to_string(),
                &range.to.to_string(),
            )
            .await?;
        let (a, b) = (versions.0.to_string(), versions.1.to_string());
        let (mut first, mut second) = (Counters::default(), Counters::default());
        for row in rows {
            if row.member == a {
                first.add(&row.counters);
            }
            if row.member == b {
                second.add(&row.counters);
            }
        }
        Ok((first, second))
    }
}

/// Below this many answered calls in either version, or fewer than this many successes or
/// failures in either, the normal approximation behind the z-test does not hold and no verdict
/// is given (the usual rule of thumb: n·p ≥ 5 and n·(1−p) ≥ 5, with n ≥ 30).
pub const MIN_ANSWERED_TO_COMPARE: u64 = 30;
pub const MIN_OUTCOMES_TO_COMPARE: u64 = 5;

/// A two-proportion z-test of B's success rate against A's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZTest {
    /// (rate B − rate A) / the pooled standard error; positive when B did better.
    pub z: f64,
    /// Two-sided: the chance of a difference at least this large if both rates were the same.
    pub p_value: f64,
    /// `p_value` < 0.05.
    pub significant: bool,
}

/// The z-test of `b_successes` of `b_trials` against `a_successes` of `a_trials`; `None` when
/// either sample is below the minimums (or the pooled rate is 0 or 1: no variance).
pub fn two_proportion_z_test(
    a_successes: u64,
    a_trials: u64,
    b_successes: u64,
    b_trials: u64,
) -> Option<ZTest> {
    let enough = |s: u64, n: u64| {
        n >= MIN_ANSWERED_TO_COMPARE
            && s >= MIN_OUTCOMES_TO_COMPARE
            && n.saturating_sub(s) >= MIN_OUTCOMES_TO_COMPARE
    };
    if !enough(a_successes, a_trials) || !enough(b_successes, b_trials) {
        return None;
    }
    let (s1, n1, s2, n2) = (
        a_successes as f64,
        a_trials as f64,
        b_successes as f64,
        b_trials as f64,
    );
    let pooled = (s1 + s2) / (n1 + n2);
    let error = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if error == 0.0 || !error.is_finite() {
        return None;
    }
    let z = (s2 / n2 - s1 / n1) / error;
    // Two-sided p = 2·(1 − Φ(|z|)) = erfc(|z| / √2).
    let p_value = libm::erfc(z.abs() / std::f64::consts::SQRT_2);
    Some(ZTest {
        z,
        p_value,
        significant: p_value < 0.05,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() < tolerance
    }

    #[test]
    fn the_z_test_matches_worked_values() {
        // 40/200 against 60/200: pooled 0.25, SE = √(0.25·0.75·(2/200)) = 0.0433013,
        // z = 0.1 / 0.0433013 = 2.3094, two-sided p = 0.02092 (normal table).
        let t = two_proportion_z_test(40, 200, 60, 200).expect("enough data");
        assert!(close(t.z, 2.309_401, 1e-5), "{t:?}");
        assert!(close(t.p_value, 0.020_921, 1e-5), "{t:?}");
        assert!(t.significant);
        // The same rates the other way round: z changes sign, p does not.
        let r = two_proportion_z_test(60, 200, 40, 200).expect("enough data");
        assert!(close(r.z, -t.z, 1e-12) && close(r.p_value, t.p_value, 1e-12));
        // 50/100 against 55/100: z = 0.05 / √(0.525·0.475·0.02) = 0.70799, p = 0.47895.
        let n = two_proportion_z_test(50, 100, 55, 100).expect("enough data");
        assert!(close(n.z, 0.707_992, 1e-5), "{n:?}");
        assert!(close(n.p_value, 0.478_950, 1e-5), "{n:?}");
        assert!(!n.significant);
        // |z| = 1.959964 is the two-sided 5 % point.
        assert!(close(
            libm::erfc(1.959_964 / std::f64::consts::SQRT_2),
            0.05,
            1e-6
        ));
    }

    #[test]
    fn small_samples_give_no_verdict() {
        assert_eq!(two_proportion_z_test(10, 29, 20, 100), None);
        assert_eq!(two_proportion_z_test(4, 100, 20, 100), None);
        assert_eq!(two_proportion_z_test(96, 100, 20, 100), None);
        assert!(two_proportion_z_test(5, 30, 20, 100).is_some());
    }

    #[test]
    fn ranges_default_to_30_days_ending_today_in_the_tenants_zone() {
        // 03:00 UTC on the 23rd is still the 22nd in New York.
        let now: DateTime<Utc> = "2026-11-23T03:00:00Z".parse().expect("a time");
        let range =
            DayRange::resolve(None, None, "America/New_York", now, MAX_RANGE_DAYS).expect("valid");
        assert_eq!(range.to.to_string(), "2026-11-22");
        assert_eq!(range.from.to_string(), "2026-10-24");
        assert_eq!(range.days().count(), 30);
        let utc = DayRange::resolve(None, None, "UTC", now, MAX_RANGE_DAYS).expect("valid");
        assert_eq!(utc.to.to_string(), "2026-11-23");
        let day = |d: &str| Some(d.parse::<NaiveDate>().expect("a date"));
        assert!(DayRange::resolve(day("2026-11-02"), day("2026-11-01"), "UTC", now, 366).is_err());
        assert!(DayRange::resolve(day("2026-01-01"), day("2026-02-01"), "UTC", now, 31).is_err());
        assert!(DayRange::resolve(day("2026-01-01"), day("2026-01-31"), "UTC", now, 31).is_ok());
    }
}
