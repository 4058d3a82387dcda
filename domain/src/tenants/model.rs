//! Tenants as the API shows them, and the bodies and queries that change or list them.

use crate::calls::{DEFAULT_RETENTION_DAYS, LegalHold};
use chrono::{DateTime, Utc};
use gobi_shared::error::{ApiError, Problems};
use gobi_shared::ids::{Domain, E164, Email, TenantId};
use gobi_shared::response::page_and_limit;
use gobi_shared::serde_fields::{nullable, whole_from};
use gobi_shared::text;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_MAX_USERS: u32 = 100;
const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2000;
const MAX_ADDRESS: usize = 500;
const MAX_SEARCH: usize = 200;
const MAX_USERS_LIMIT: u32 = 1_000_000;

/// A customer organisation on the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: TenantId,
    #[schema(example = "Example Corp")]
    pub name: String,
    pub domain: Domain,
    pub description: Option<String>,
    pub is_active: bool,
    pub contact_email: Option<Email>,
    pub contact_phone: Option<E164>,
    pub address: Option<String>,
    #[schema(example = 100)]
    pub max_users: u32,
    /// Days call data is kept before it expires (default 365).
    #[serde(default = "default_retention")]
    #[schema(example = 365)]
    pub retention_days: u32,
    /// Live calls at once over all the tenant's campaigns, at most (default 10).
    #[serde(default = "default_max_concurrent_calls")]
    #[schema(example = 10)]
    pub max_concurrent_calls: u32,
    /// The IANA time zone its analytics count hours and days in (default `UTC`).
    #[serde(default = "default_timezone")]
    #[schema(example = "America/New_York")]
    pub timezone: String,
    /// A legal hold on the whole tenant: its call data does not expire and nothing is deleted.
    #[serde(default)]
    pub legal_hold: Option<LegalHold>,
    /// The background job that brings every call's expiry in line with the newest hold change.
    #[serde(default)]
    pub hold_job: Option<HoldJob>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Placing or lifting a tenant hold rewrites the expiry of every call item, which a large tenant
/// cannot do in one request: a job does it in batches from SQS, resumable from its cursor, and
/// reports its progress here. A newer hold change starts a new job and the older one stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldJob {
    pub id: uuid::Uuid,
    /// `true` while placing a hold (expiries removed), `false` while lifting it (restored).
    pub holding: bool,
    pub state: HoldJobState,
    /// Calls brought in line so far.
    pub calls_done: u64,
    /// Where the next batch starts (opaque); absent before the first batch and at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum HoldJobState {
    Running,
    Completed,
}

impl HoldJob {
    /// A job for a hold just placed (`holding`) or lifted.
    pub fn start(holding: bool, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::now_v7(),
            holding,
            state: HoldJobState::Running,
            calls_done: 0,
            cursor: None,
            started_at: now,
            completed_at: None,
        }
    }

    /// The job after a batch of `calls` that ended at `next` (`None`: the last batch).
    pub fn advanced(&self, calls: u64, next: Option<String>, now: DateTime<Utc>) -> Self {
        let done = next.is_none();
        Self {
            calls_done: self.calls_done + calls,
            state: if done {
                HoldJobState::Completed
            } else {
                HoldJobState::Running
            },
            cursor: next,
            completed_at: done.then_some(now),
            ..self.clone()
        }
    }
}

fn default_retention() -> u32 {
    DEFAULT_RETENTION_DAYS
}

const MAX_RETENTION_DAYS: u32 = 3650;

fn retention(raw: &serde_json::Number) -> Result<u32, String> {
    whole_from(raw)
        .ok()
        .filter(|n| (1..=MAX_RETENTION_DAYS).contains(n))
        .ok_or_else(|| format!("must be a whole number of days between 1 and {MAX_RETENTION_DAYS}"))
}

/// `POST /api/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenant {
    /// 1 to 200 characters.
    #[schema(
        example = "Example Corp",
        min_length = 1,
        max_length = 200,
        pattern = r"\S"
    )]
    pub name: String,
    /// Unique across tenants, compared case-insensitively.
    #[schema(value_type = Domain)]
    pub domain: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Defaults to true.
    pub is_active: Option<bool>,
    #[schema(value_type = Option<Email>)]
    pub contact_email: Option<String>,
    /// E.164, e.g. +15551234567.
    #[schema(value_type = Option<E164>)]
    pub contact_phone: Option<String>,
    #[schema(max_length = 500)]
    pub address: Option<String>,
    /// Defaults to 100.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000000, example = 100)]
    pub max_users: Option<serde_json::Number>,
    /// Days call data is kept, 1 to 3650 (default 365).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    pub retention_days: Option<serde_json::Number>,
    /// Live calls at once over all campaigns, 1 to 1000 (default 10).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub max_concurrent_calls: Option<serde_json::Number>,
    /// The IANA time zone its analytics count hours and days in (default `UTC`).
    #[schema(example = "America/New_York")]
    pub timezone: Option<String>,
}

/// `PUT /api/tenants/{id}`: only the fields sent change; `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTenant {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Domain, required = false)]
    pub domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool, required = false)]
    pub is_active: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Email>)]
    pub contact_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<E164>)]
    pub contact_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = i64, required = false, minimum = 1, maximum = 1000000)]
    pub max_users: Option<Option<serde_json::Number>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = i64, required = false, minimum = 1, maximum = 3650)]
    pub retention_days: Option<Option<serde_json::Number>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = i64, required = false, minimum = 1, maximum = 1000)]
    pub max_concurrent_calls: Option<Option<serde_json::Number>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, required = false, example = "America/New_York")]
    pub timezone: Option<Option<String>>,
}

/// An optional typed value: absent or null means none; anything sent must parse (send `null`,
/// not `""`, to clear one).
fn optional<T, E: ToString>(
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, String> {
    raw.map(|t| parse(t).map_err(|e| e.to_string())).transpose()
}

/// JSON Schema counts `100.0` as an integer, so it is accepted as 100.
fn max_users(raw: &serde_json::Number) -> Result<u32, String> {
    whole_from(raw)
        .ok()
        .filter(|n| (1..=MAX_USERS_LIMIT).contains(n))
        .ok_or_else(|| format!("must be a whole number between 1 and {MAX_USERS_LIMIT}"))
}

/// Live calls at once a tenant may have, unless it says otherwise.
pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 10;
const MAX_CONCURRENT_CALLS_LIMIT: u32 = 1000;

fn default_max_concurrent_calls() -> u32 {
    DEFAULT_MAX_CONCURRENT_CALLS
}

fn max_concurrent_calls(raw: &serde_json::Number) -> Result<u32, String> {
    whole_from(raw)
        .ok()
        .filter(|n| (1..=MAX_CONCURRENT_CALLS_LIMIT).contains(n))
        .ok_or_else(|| format!("must be a whole number between 1 and {MAX_CONCURRENT_CALLS_LIMIT}"))
}

/// The zone a tenant's analytics use unless it names one.
pub const DEFAULT_TIMEZONE: &str = "UTC";

fn default_timezone() -> String {
    DEFAULT_TIMEZONE.to_owned()
}

/// An IANA time zone name (`America/New_York`), as the tz database knows it (`domain::zone`),
/// spelled as it spells it.
pub fn timezone(raw: &str) -> Result<String, String> {
    crate::zone::Zone::named(raw)
        .map(|zone| zone.name().to_owned())
        .ok_or_else(|| "must be an IANA time zone name, e.g. America/New_York".to_owned())
}

/// A new tenant's validated fields.
pub struct NewTenant {
    pub timezone: String,
    pub retention_days: u32,
    pub max_concurrent_calls: u32,
    pub name: String,
    pub domain: Domain,
    pub description: Option<String>,
    pub is_active: bool,
    pub contact_email: Option<Email>,
    pub contact_phone: Option<E164>,
    pub address: Option<String>,
    pub max_users: u32,
}

impl NewTenant {
    pub fn into_tenant(self, id: TenantId, now: DateTime<Utc>) -> Tenant {
        Tenant {
            id,
            name: self.name,
            domain: self.domain,
            description: self.description,
            is_active: self.is_active,
            contact_email: self.contact_email,
            contact_phone: self.contact_phone,
            address: self.address,
            max_users: self.max_users,
            retention_days: self.retention_days,
            max_concurrent_calls: self.max_concurrent_calls,
            timezone: self.timezone,
            legal_hold: None,
            hold_job: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl CreateTenant {
    /// A tenant with only the required fields (first-admin setup names no more).
    pub fn from_name_and_domain(name: String, domain: String) -> Self {
        Self {
            name,
            domain,
            description: None,
            is_active: None,
            contact_email: None,
            contact_phone: None,
            address: None,
            max_users: None,
            retention_days: None,
            max_concurrent_calls: None,
            timezone: None,
        }
    }

    pub fn validate(self) -> Result<NewTenant, ApiError> {
        let mut p = Problems::default();
        let name = p.check("name", text::required(&self.name, MAX_NAME));
        let domain = p.check("domain", Domain::parse(&self.domain));
        let description = p.check(
            "description",
            text::optional(self.description.as_deref(), MAX_DESCRIPTION),
        );
        let contact_email = p.check(
            "contactEmail",
            optional(self.contact_email.as_deref(), Email::parse),
        );
        let contact_phone = p.check(
            "contactPhone",
            optional(self.contact_phone.as_deref(), E164::parse),
        );
        let address = p.check(
            "address",
            text::optional(self.address.as_deref(), MAX_ADDRESS),
        );
        let retention_days = p.check(
            "retentionDays",
            self.retention_days
                .as_ref()
                .map(retention)
                .unwrap_or(Ok(DEFAULT_RETENTION_DAYS)),
        );
        let max_users = p.check(
            "maxUsers",
            self.max_users
                .as_ref()
                .map(max_users)
                .unwrap_or(Ok(DEFAULT_MAX_USERS)),
        );
        let max_calls = p.check(
            "maxConcurrentCalls",
            self.max_concurrent_calls
                .as_ref()
                .map(max_concurrent_calls)
                .unwrap_or(Ok(DEFAULT_MAX_CONCURRENT_CALLS)),
        );
        let zone = p.check(
            "timezone",
            self.timezone
                .as_deref()
                .map(timezone)
                .unwrap_or_else(|| Ok(default_timezone())),
        );
        p.finish()?;
        Ok(NewTenant {
            timezone: zone.expect("checked"),
            retention_days: retention_days.expect("checked"),
            max_concurrent_calls: max_calls.expect("checked"),
            name: name.expect("checked"),
            domain: domain.expect("checked"),
            description: description.expect("checked"),
            is_active: self.is_active.unwrap_or(true),
            contact_email: contact_email.expect("checked"),
            contact_phone: contact_phone.expect("checked"),
            address: address.expect("checked"),
            max_users: max_users.expect("checked"),
        })
    }
}

/// A validated partial update, applied to the stored tenant by [`TenantChanges::apply`].
#[derive(Debug, Clone, Default)]
pub struct TenantChanges {
    name: Option<String>,
    domain: Option<Domain>,
    description: Option<Option<String>>,
    is_active: Option<bool>,
    contact_email: Option<Option<Email>>,
    contact_phone: Option<Option<E164>>,
    address: Option<Option<String>>,
    max_users: Option<u32>,
    retention_days: Option<u32>,
    max_concurrent_calls: Option<u32>,
    timezone: Option<String>,
}

fn required<T>(value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| "may not be null".to_owned())
}

impl UpdateTenant {
    pub fn validate(self) -> Result<TenantChanges, ApiError> {
        let mut p = Problems::default();
        let changes = TenantChanges {
            name: self.name.and_then(|v| {
                p.check(
                    "name",
                    required(v).and_then(|n| text::required(&n, MAX_NAME)),
                )
            }),
            domain: self.domain.and_then(|v| {
                p.check(
                    "domain",
                    required(v).and_then(|d| Domain::parse(&d).map_err(|e| e.to_string())),
                )
            }),
            description: self.description.and_then(|v| {
                p.check("description", text::optional(v.as_deref(), MAX_DESCRIPTION))
            }),
            is_active: self
                .is_active
                .and_then(|v| p.check("isActive", required(v))),
            contact_email: self
                .contact_email
                .and_then(|v| p.check("contactEmail", optional(v.as_deref(), Email::parse))),
            contact_phone: self
                .contact_phone
                .and_then(|v| p.check("contactPhone", optional(v.as_deref(), E164::parse))),
            address: self
                .address
                .and_then(|v| p.check("address", text::optional(v.as_deref(), MAX_ADDRESS))),
            max_users: self
                .max_users
                .and_then(|v| p.check("maxUsers", required(v).and_then(|n| max_users(&n)))),
            retention_days: self
                .retention_days
                .and_then(|v| p.check("retentionDays", required(v).and_then(|n| retention(&n)))),
            max_concurrent_calls: self.max_concurrent_calls.and_then(|v| {
                p.check(
                    "maxConcurrentCalls",
                    required(v).and_then(|n| max_concurrent_calls(&n)),
                )
            }),
            timezone: self
                .timezone
                .and_then(|v| p.check("timezone", required(v).and_then(|z| timezone(&z)))),
        };
        p.finish()?;
        Ok(changes)
    }
}

impl TenantChanges {
    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }

    /// The tenant after these changes; `updated_at` is the caller's.
    pub fn apply(&self, tenant: &Tenant, now: DateTime<Utc>) -> Tenant {
        fn set<T: Clone>(slot: &mut T, change: &Option<T>) {
            if let Some(value) = change {
                *slot = value.clone();
            }
        }
        let mut next = tenant.clone();
        set(&mut next.name, &self.name);
        set(&mut next.domain, &self.domain);
        set(&mut next.description, &self.description);
        set(&mut next.is_active, &self.is_active);
        set(&mut next.contact_email, &self.contact_email);
        set(&mut next.contact_phone, &self.contact_phone);
        set(&mut next.address, &self.address);
        set(&mut next.max_users, &self.max_users);
        set(&mut next.retention_days, &self.retention_days);
        set(&mut next.max_concurrent_calls, &self.max_concurrent_calls);
        set(&mut next.timezone, &self.timezone);
        if next != *tenant {
            next.updated_at = now;
        }
        next
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SortBy {
    Name,
    Domain,
    #[default]
    CreatedAt,
    UpdatedAt,
    MaxUsers,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// `GET /api/tenants` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTenantsQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Case-insensitive match on name, domain, description or contact e-mail.
    #[param(max_length = 200)]
    pub search: Option<String>,
    pub is_active: Option<bool>,
    #[param(inline)]
    pub sort_by: Option<SortBy>,
    #[param(inline)]
    pub sort_order: Option<SortOrder>,
}

/// A checked list query.
pub struct TenantFilter {
    pub page: u32,
    pub limit: u32,
    search: Option<String>,
    is_active: Option<bool>,
    sort_by: SortBy,
    sort_order: SortOrder,
}

impl ListTenantsQuery {
    pub fn validate(self) -> Result<TenantFilter, ApiError> {
        let mut p = Problems::default();
        let (page, limit) = page_and_limit(self.page, self.limit, &mut p);
        let search = p.check("search", text::optional(self.search.as_deref(), MAX_SEARCH));
        p.finish()?;
        Ok(TenantFilter {
            page,
            limit,
            search: search.expect("checked").map(|s| s.to_lowercase()),
            is_active: self.is_active,
            sort_by: self.sort_by.unwrap_or_default(),
            sort_order: self.sort_order.unwrap_or_default(),
        })
    }
}

impl TenantFilter {
    fn matches(&self, tenant: &Tenant) -> bool {
        if self
            .is_active
            .is_some_and(|active| tenant.is_active != active)
        {
            return false;
        }
        let Some(needle) = &self.search else {
            return true;
        };
        [
            Some(tenant.name.as_str()),
            Some(tenant.domain.as_str()),
            tenant.description.as_deref(),
            tenant.contact_email.as_ref().map(Email::as_str),
        ]
        .into_iter()
        .flatten()
        .any(|field| field.to_lowercase().contains(needle))
    }

    /// Filters and orders the whole collection; ties fall back to the id, so pages are stable.
    pub fn apply(&self, tenants: Vec<Tenant>) -> Vec<Tenant> {
        let mut kept: Vec<Tenant> = tenants.into_iter().filter(|t| self.matches(t)).collect();
        kept.sort_by(|a, b| {
            let order = match self.sort_by {
                SortBy::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                SortBy::Domain => a.domain.as_str().cmp(b.domain.as_str()),
                SortBy::CreatedAt => a.created_at.cmp(&b.created_at),
                SortBy::UpdatedAt => a.updated_at.cmp(&b.updated_at),
                SortBy::MaxUsers => a.max_users.cmp(&b.max_users),
            }
            .then_with(|| a.id.cmp(&b.id));
            match self.sort_order {
                SortOrder::Asc => order,
                SortOrder::Desc => order.reverse(),
            }
        });
        kept
    }
}

/// `DELETE /api/tenants/{id}` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteTenantQuery {
    /// Admin only: remove the tenant for good instead of deactivating it.
    pub permanent: Option<bool>,
}
