//! The tenants table: one item per tenant and one marker item per domain, so a domain's
//! uniqueness is enforced by DynamoDB inside a transaction, never by read-then-write.

use std::collections::HashMap;

use crate::error::{StoreError, StoreResult};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use gobi_shared::dynamo::{self, Backoff};
use gobi_shared::ids::{Domain, TenantId};
use serde::{Deserialize, Serialize};

use super::model::{HoldJob, Tenant, TenantChanges};

/// Key formats of the tenants table.
mod keys {
    use gobi_shared::ids::{Domain, TenantId};

    pub const PROFILE: &str = "PROFILE";
    pub const DOMAIN: &str = "DOMAIN";
    /// The partition of the `gsi1` index that lists every tenant.
    pub const ALL_TENANTS: &str = "TENANTS";
    pub const LIST_INDEX: &str = "gsi1";

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn domain(domain: &Domain) -> String {
        format!("DOMAIN#{domain}")
    }

    pub fn listing(created_at: &chrono::DateTime<chrono::Utc>, id: TenantId) -> String {
        format!(
            "{}#{id}",
            created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    }
}

#[derive(Serialize, Deserialize)]
struct TenantItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    /// Bumped by every write; writes are conditional on the version they read.
    version: u64,
    #[serde(flatten)]
    tenant: Tenant,
}

impl TenantItem {
    fn new(tenant: Tenant, version: u64) -> Self {
        Self {
            pk: keys::tenant(tenant.id),
            sk: keys::PROFILE.to_owned(),
            gsi1pk: keys::ALL_TENANTS.to_owned(),
            gsi1sk: keys::listing(&tenant.created_at, tenant.id),
            version,
            tenant,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct DomainMarker {
    pk: String,
    sk: String,
    #[serde(rename = "tenantId")]
    tenant_id: TenantId,
}

pub fn tenant_not_found(id: TenantId) -> StoreError {
    StoreError::not_found("TENANT_NOT_FOUND", format!("Tenant {id} not found"))
}

pub fn domain_exists(domain: &Domain) -> StoreError {
    StoreError::conflict(
        "DOMAIN_EXISTS",
        format!("Domain {domain} is already in use"),
    )
}

#[derive(Clone, Debug)]
pub struct TenantStore {
    client: Client,
    table: String,
}

impl TenantStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn put_marker(
        &self,
        domain: &Domain,
        tenant_id: TenantId,
    ) -> anyhow::Result<TransactWriteItem> {
        let marker = DomainMarker {
            pk: keys::domain(domain),
            sk: keys::DOMAIN.to_owned(),
            tenant_id,
        };
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(dynamo::to_item(&marker)?))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()?,
            )
            .build())
    }

    /// Deletes `pk`/`sk` only while `attribute` still holds `value`.
    fn delete_if(
        &self,
        pk: String,
        sk: &str,
        attribute: &str,
        value: AttributeValue,
    ) -> anyhow::Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(pk, sk)))
            .condition_expression("#attribute = :value")
            .expression_attribute_names("#attribute", attribute)
            .expression_attribute_values(":value", value)
            .build()?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn delete_marker(
        &self,
        domain: &Domain,
        tenant_id: TenantId,
    ) -> anyhow::Result<TransactWriteItem> {
        self.delete_if(
            keys::domain(domain),
            keys::DOMAIN,
            "tenantId",
            AttributeValue::S(tenant_id.to_string()),
        )
    }

    /// Writes `tenant` as the successor of `expected_version` (`None`: a new tenant).
    fn put_tenant(
        &self,
        tenant: &Tenant,
        expected_version: Option<u64>,
    ) -> anyhow::Result<TransactWriteItem> {
        let item = TenantItem::new(tenant.clone(), expected_version.map_or(1, |v| v + 1));
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?));
        put = match expected_version {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("version = :version")
                .expression_attribute_values(":version", AttributeValue::N(v.to_string())),
        };
        Ok(TransactWriteItem::builder().put(put.build()?).build())
    }

    /// Creates the tenant and claims its domain in one transaction.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant.id))]
    pub async fn create(&self, tenant: Tenant) -> StoreResult<Tenant> {
        match dynamo::transact(
            &self.client,
            self.create_items(&tenant)?.to_vec(),
            Backoff::default(),
        )
        .await
        {
            Ok(()) => Ok(tenant),
            Err(e) => Err(match dynamo::cancellation_reasons(&e) {
                Some(r) if dynamo::item_condition_failed(&r, 1) => domain_exists(&tenant.domain),
                Some(r) if dynamo::item_condition_failed(&r, 0) => StoreError::conflict(
                    "TENANT_EXISTS",
                    format!("Tenant {} already exists", tenant.id),
                ),
                _ => StoreError::Dynamo(anyhow::Error::new(e).context("creating tenant")),
            }),
        }
    }

    /// The writes that create `tenant`, for this store's own transaction or a larger one:
    /// `[0]` puts the tenant (if new), `[1]` claims its domain (if free).
    pub fn create_items(&self, tenant: &Tenant) -> anyhow::Result<[TransactWriteItem; 2]> {
        Ok([
            self.put_tenant(tenant, None)?,
            self.put_marker(&tenant.domain, tenant.id)?,
        ])
    }

    /// A transaction item that holds only while the tenant exists.
    pub fn exists_check(&self, id: TenantId) -> anyhow::Result<TransactWriteItem> {
        dynamo::condition_check(
            &self.table,
            dynamo::key(keys::tenant(id), keys::PROFILE),
            "attribute_exists(pk)",
            &[],
        )
    }

    /// A transaction item that holds while the tenant exists and has no legal hold (a lifted
    /// hold is stored as null), for writes that a tenant hold forbids.
    pub fn not_held_check(&self, id: TenantId) -> anyhow::Result<TransactWriteItem> {
        dynamo::condition_check(
            &self.table,
            dynamo::key(keys::tenant(id), keys::PROFILE),
            "attribute_exists(pk) AND (attribute_not_exists(legalHold) OR attribute_type(legalHold, :null))",
            &[(":null", AttributeValue::S("NULL".into()))],
        )
    }

    /// A transaction item that holds while the tenant is at `version`: nothing of it changed
    /// (every write bumps the version).
    pub fn unchanged_check(&self, id: TenantId, version: u64) -> anyhow::Result<TransactWriteItem> {
        dynamo::condition_check(
            &self.table,
            dynamo::key(keys::tenant(id), keys::PROFILE),
            "version = :version",
            &[(":version", dynamo::n(version))],
        )
    }

    /// The tenant and its version (what [`Self::unchanged_check`] holds to).
    #[tracing::instrument(skip_all, fields(tenant_id = %id))]
    pub async fn get_versioned(&self, id: TenantId) -> StoreResult<Option<(Tenant, u64)>> {
        Ok(self
            .get_item(id)
            .await?
            .map(|item| (item.tenant, item.version)))
    }

    async fn get_item(&self, id: TenantId) -> StoreResult<Option<TenantItem>> {
        let output = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(id),
            keys::PROFILE,
            "reading tenant",
        )
        .await?;
        Ok(output.map(dynamo::from_item).transpose()?)
    }

    #[tracing::instrument(skip_all, fields(tenant_id = %id))]
    pub async fn get(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        Ok(self.get_item(id).await?.map(|item| item.tenant))
    }

    /// Every tenant, from the listing index. Tenants are few; callers filter and page in memory.
    #[tracing::instrument(skip_all)]
    pub async fn list(&self) -> StoreResult<Vec<Tenant>> {
        let mut tenants = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::LIST_INDEX)
                .key_condition_expression("gsi1pk = :all")
                .expression_attribute_values(
                    ":all",
                    AttributeValue::S(keys::ALL_TENANTS.to_owned()),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("listing tenants"))?;
            for item in output.items.unwrap_or_default() {
                tenants.push(dynamo::from_item::<TenantItem>(item)?.tenant);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(tenants),
            }
        }
    }

    /// Applies `changes` to the current tenant, conditional on the version read; a lost race is
    /// read again and retried, a bounded number of times. A new domain is claimed and the old
    /// one released in the same transaction.
    #[tracing::instrument(skip_all, fields(tenant_id = %id))]
    pub async fn update(
        &self,
        id: TenantId,
        changes: &TenantChanges,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        let mut backoff = Backoff::default();
        loop {
            let current = self
                .get_item(id)
                .await?
                .ok_or_else(|| tenant_not_found(id))?;
            let next = changes.apply(&current.tenant, now);
            if next == current.tenant {
                return Ok(next);
            }
            let mut items = vec![self.put_tenant(&next, Some(current.version))?];
            let domain_changed = next.domain != current.tenant.domain;
            if domain_changed {
                items.push(self.put_marker(&next.domain, id)?);
                items.push(self.delete_marker(&current.tenant.domain, id)?);
            }
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(next),
                Err(e) => {
                    let reasons = dynamo::cancellation_reasons(&e);
                    if domain_changed
                        && reasons
                            .as_deref()
                            .is_some_and(|r| dynamo::item_condition_failed(r, 1))
                    {
                        return Err(domain_exists(&next.domain));
                    }
                    let lost_race = dynamo::is_transaction_conflict(&e)
                        || reasons
                            .as_deref()
                            .is_some_and(|r| dynamo::item_condition_failed(r, 0));
                    if lost_race && backoff.wait().await {
                        continue;
                    }
                    return Err(StoreError::Dynamo(
                        anyhow::Error::new(e).context("updating tenant"),
                    ));
                }
            }
        }
    }

    /// Places (or lifts, with `None`) a legal hold on the tenant and starts the job that brings
    /// its calls in line (replacing any job still running), in one conditional update.
    #[tracing::instrument(skip_all, fields(tenant_id = %id))]
    pub async fn set_legal_hold(
        &self,
        id: TenantId,
        hold: Option<&crate::calls::LegalHold>,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        let value = match hold {
            Some(hold) => serde_dynamo::to_attribute_value(hold).map_err(anyhow::Error::new)?,
            None => AttributeValue::Null(true),
        };
        let job = HoldJob::start(hold.is_some(), now);
        self.set_profile_attributes(
            id,
            &[
                ("legalHold", value),
                (
                    "holdJob",
                    serde_dynamo::to_attribute_value(&job).map_err(anyhow::Error::new)?,
                ),
            ],
            None,
            now,
            "setting a legal hold",
        )
        .await
        .map(|tenant| tenant.expect("unconditional on the job"))
    }

    /// Records a batch of hold job `job` (as read): `None` when that job is no longer the
    /// tenant's or another delivery recorded this batch first.
    #[tracing::instrument(skip_all, fields(tenant_id = %id))]
    pub async fn advance_hold_job(
        &self,
        id: TenantId,
        job: &HoldJob,
        calls: u64,
        next: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Tenant>> {
        let advanced = job.advanced(calls, next, now);
        self.set_profile_attributes(
            id,
            &[(
                "holdJob",
                serde_dynamo::to_attribute_value(&advanced).map_err(anyhow::Error::new)?,
            )],
            Some(job),
            now,
            "recording a legal-hold batch",
        )
        .await
    }

    /// Deactivates or reactivates in one conditional update.
    #[tracing::instrument(skip_all, fields(tenant_id = %id))]
    pub async fn set_active(
        &self,
        id: TenantId,
        active: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        self.set_profile_attributes(
            id,
            &[("isActive", AttributeValue::Bool(active))],
            None,
            now,
            "changing tenant status",
        )
        .await
        .map(|tenant| tenant.expect("unconditional on a job"))
    }

    /// Sets attributes of an existing tenant's profile in one conditional update, bumping the
    /// version and `updatedAt`; the tenant as it is afterwards. With `job`, only while that job,
    /// at that point of its progress, is still the tenant's (else `None`).
    async fn set_profile_attributes(
        &self,
        id: TenantId,
        values: &[(&'static str, AttributeValue)],
        job: Option<&HoldJob>,
        now: DateTime<Utc>,
        doing: &'static str,
    ) -> StoreResult<Option<Tenant>> {
        let sets: Vec<String> = (0..values.len())
            .map(|i| format!("#a{i} = :v{i}"))
            .collect();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(id), keys::PROFILE)))
            .update_expression(format!(
                "SET {}, updatedAt = :now, version = version + :one",
                sets.join(", ")
            ))
            .expression_attribute_values(":now", dynamo::time(now)?)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew);
        for (i, (name, value)) in values.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":v{i}"), value.clone());
        }
        update = match job {
            None => update.condition_expression("attribute_exists(pk)"),
            Some(job) => update
                .condition_expression(
                    "attribute_exists(pk) AND holdJob.id = :job AND holdJob.callsDone = :done AND holdJob.#state = :running",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":job", AttributeValue::S(job.id.to_string()))
                .expression_attribute_values(":done", AttributeValue::N(job.calls_done.to_string()))
                .expression_attribute_values(":running", AttributeValue::S("running".into())),
        };
        match update.send().await {
            Ok(output) => Ok(Some(
                dynamo::from_item::<TenantItem>(output.attributes.unwrap_or_default())?.tenant,
            )),
            Err(e) if dynamo::is_condition_failed(&e) => match job {
                Some(_) if self.get_item(id).await?.is_some() => Ok(None),
                _ => Err(tenant_not_found(id)),
            },
            Err(e) => Err(StoreError::Dynamo(anyhow::Error::new(e).context(doing))),
        }
    }

    /// Removes the tenant and releases its domain, conditional on the version read.
    #[tracing::instrument(skip_all, fields(tenant_id = %id))]
    pub async fn delete(&self, id: TenantId) -> StoreResult<Tenant> {
        let mut backoff = Backoff::default();
        loop {
            let current = self
                .get_item(id)
                .await?
                .ok_or_else(|| tenant_not_found(id))?;
            if current.tenant.legal_hold.is_some() {
                return Err(crate::calls::legal_hold_active());
            }
            let delete_tenant = self.delete_if(
                keys::tenant(id),
                keys::PROFILE,
                "version",
                AttributeValue::N(current.version.to_string()),
            )?;
            let items = vec![
                delete_tenant,
                self.delete_marker(&current.tenant.domain, id)?,
            ];
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(current.tenant),
                Err(e) => {
                    let lost_race = dynamo::is_transaction_conflict(&e)
                        || dynamo::cancellation_reasons(&e)
                            .is_some_and(|r| dynamo::item_condition_failed(&r, 0));
                    if lost_race && backoff.wait().await {
                        continue;
                    }
                    return Err(StoreError::Dynamo(
                        anyhow::Error::new(e).context("deleting tenant"),
                    ));
                }
            }
        }
    }
}
