//! The calls table: opening calls by CallSid, reading, advancing and paging them.

use super::*;

/// A call as read, with the expiry its records take (none while it is held), so what is
/// written about it needs no second read.
#[derive(Debug, Clone)]
pub struct StoredCall {
    pub call: Call,
    pub expires_at: Option<i64>,
}

/// How opening a call ended ([`CallStore::open_guarded`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Opening {
    /// Written now: the call as stored.
    New(Box<Call>),
    /// Its CallSid opened this call before; `handoff_due` while no dispatch was created for it.
    Existing {
        tenant_id: TenantId,
        call_id: CallId,
        handoff_due: bool,
    },
    /// The guard at this index (of those given) failed: nothing was written.
    Stale(usize),
}

#[derive(Clone, Debug)]
pub struct CallStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl CallStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub(crate) fn put(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: &str,
    ) -> anyhow::Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .build()?,
            )
            .build())
    }

    pub(crate) async fn get_item<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
    ) -> StoreResult<Option<T>> {
        let output =
            dynamo::read_item(&self.client, &self.table, pk, sk, "reading the calls table").await?;
        Ok(output.map(dynamo::from_item).transpose()?)
    }

    /// The tenant of a call or dispatch known by id alone (keys-only index).
    pub(crate) async fn tenant_of(&self, id_key: String) -> StoreResult<Option<TenantId>> {
        Ok(dynamo::tenant_by_id(&self.client, &self.table, id_key)
            .await
            .map_err(|e| e.context("finding by id"))?)
    }

    /// Opens the call for `call.call_sid` and counts it, or finds the one an earlier delivery
    /// opened: `(call, true)` when it is new. `tenant_held`: the tenant is under legal hold.
    pub async fn open(&self, call: &Call, tenant_held: bool) -> StoreResult<(Call, bool)> {
        match self.open_guarded(call, tenant_held, Vec::new()).await? {
            Opening::New(call) => Ok((*call, true)),
            Opening::Existing { .. } | Opening::Stale(_) => {
                let existing = self
                    .by_sid(&call.call_sid)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("CallSid marker without a call"))?;
                Ok((existing, false))
            }
        }
    }

    /// Opens the call for `call.call_sid` and counts it, in one transaction that also holds
    /// `guards` (condition checks on what the call was made from, and writes that go with it):
    /// the call as stored when new, else which call its CallSid opened before (from the
    /// marker's condition failure, no read), else the index of the guard that failed.
    #[tracing::instrument(skip_all, fields(tenant_id = %call.tenant_id, call_id = %call.id))]
    pub async fn open_guarded(
        &self,
        call: &Call,
        tenant_held: bool,
        guards: Vec<TransactWriteItem>,
    ) -> StoreResult<Opening> {
        let marker = SidMarker {
            pk: keys::call_sid(&call.call_sid),
            sk: "CALLSID".into(),
            tenant_id: call.tenant_id,
            call_id: call.id,
            handoff_due: true,
        };
        let item = CallItem {
            pk: keys::tenant(call.tenant_id),
            sk: keys::call(call.id),
            gsi1pk: keys::call(call.id),
            gsi1sk: "CALL".into(),
            status_rank: call.status.rank(),
            expires_at: call.expiry(tenant_held),
            call: call.clone(),
        };
        let marker_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&marker)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(anyhow::Error::new)?;
        let mut items = vec![
            TransactWriteItem::builder().put(marker_put).build(),
            self.put(dynamo::to_item(&item)?, "attribute_not_exists(pk)")?,
        ];
        let adds: &[(&str, i64)] = if call.answered_by_machine() {
            &[("calls", 1), ("voicemail", 1)]
        } else {
            &[("calls", 1)]
        };
        items.extend(self.count(&call.metric_scope(), adds)?);
        let first_guard = items.len();
        items.extend(guards);
        match dynamo::transact_conditional(&self.client, items, "opening a call").await? {
            TransactOutcome::Written => Ok(Opening::New(Box::new(call.clone()))),
            TransactOutcome::ConditionFailed { index: 0, item } => {
                let marker: SidMarker =
                    dynamo::from_item(item.ok_or_else(|| {
                        anyhow::anyhow!("a CallSid marker's failure without it")
                    })?)?;
                Ok(Opening::Existing {
                    tenant_id: marker.tenant_id,
                    call_id: marker.call_id,
                    handoff_due: marker.handoff_due,
                })
            }
            TransactOutcome::ConditionFailed { index, .. } if index >= first_guard => {
                Ok(Opening::Stale(index - first_guard))
            }
            TransactOutcome::ConditionFailed { index, .. } => Err(StoreError::Dynamo(
                anyhow::anyhow!("opening a call: the condition of item {index} failed"),
            )),
        }
    }

    /// The call Twilio knows by this CallSid: the marker, then the call.
    pub async fn by_sid(&self, call_sid: &str) -> StoreResult<Option<Call>> {
        let Some(marker) = self
            .get_item::<SidMarker>(keys::call_sid(call_sid), "CALLSID".into())
            .await?
        else {
            return Ok(None);
        };
        self.get(marker.tenant_id, marker.call_id).await
    }

    pub async fn get(&self, tenant: TenantId, id: CallId) -> StoreResult<Option<Call>> {
        Ok(self
            .get_item::<CallItem>(keys::tenant(tenant), keys::call(id))
            .await?
            .map(|i| i.call))
    }

    pub async fn find(&self, id: CallId) -> StoreResult<Option<Call>> {
        match self.tenant_of(keys::call(id)).await? {
            Some(tenant) => self.get(tenant, id).await,
            None => Ok(None),
        }
    }

    /// Applies a status callback, only if it moves the call forward; `None` when it did not
    /// (late or repeated callbacks change nothing). The day's counters move in the same write:
    /// `answered` the first time the call is answered, the duration when it ends.
    #[tracing::instrument(skip_all, fields(tenant_id = %call.tenant_id, call_id = %call.id))]
    pub async fn advance(
        &self,
        call: &Call,
        status: CallStatus,
        duration: Option<u32>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Call>> {
        let answers = status == CallStatus::InProgress
            || (status.is_final() && duration.is_some_and(|d| d > 0));
        if answers
            && self
                .advance_once(call, status, duration, at, Some(true))
                .await?
        {
            return self.get(call.tenant_id, call.id).await;
        }
        let moved = self
            .advance_once(call, status, duration, at, answers.then_some(false))
            .await?;
        if moved {
            self.get(call.tenant_id, call.id).await
        } else {
            Ok(None)
        }
    }

    /// One conditional attempt. `first_answer`: `Some(true)` only while the call was never
    /// answered (and counts it), `Some(false)` only once it was, `None` either way.
    pub(crate) async fn advance_once(
        &self,
        call: &Call,
        status: CallStatus,
        duration: Option<u32>,
        at: DateTime<Utc>,
        first_answer: Option<bool>,
    ) -> StoreResult<bool> {
        let mut set = vec![
            "#status = :status",
            "status_rank = :rank",
            "updated_at = :at",
        ];
        let mut condition = "attribute_exists(pk) AND status_rank < :rank".to_owned();
        match first_answer {
            Some(true) => {
                set.push("answered_at = :at");
                condition.push_str(" AND attribute_not_exists(answered_at)");
            }
            Some(false) => condition.push_str(" AND attribute_exists(answered_at)"),
            None => {}
        }
        if status.is_final() {
            set.push("ended_at = :at");
        }
        if duration.is_some() {
            set.push("duration_seconds = :duration");
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(call.tenant_id),
                keys::call(call.id),
            )))
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":status",
                serde_dynamo::to_attribute_value(status).map_err(anyhow::Error::new)?,
            )
            .expression_attribute_values(":rank", AttributeValue::N(status.rank().to_string()))
            .expression_attribute_values(":at", time(at)?);
        if let Some(duration) = duration {
            update = update
                .expression_attribute_values(":duration", AttributeValue::N(duration.to_string()));
        }
        let mut adds = Vec::new();
        if first_answer == Some(true) {
            adds.push(("answered", 1));
        }
        let bucket;
        if status.is_final()
            && let Some(duration) = duration.filter(|d| *d > 0)
        {
            bucket = talk_bucket(duration);
            adds.push(("duration_seconds", i64::from(duration)));
            adds.push((bucket.as_str(), 1));
        }
        let mut items = vec![
            TransactWriteItem::builder()
                .update(update.build().map_err(anyhow::Error::new)?)
                .build(),
        ];
        if !adds.is_empty() {
            items.extend(self.count(&call.metric_scope(), &adds)?);
        }
        Ok(dynamo::transact_guarded(&self.client, items, 0, "updating a call's status").await?)
    }

    pub(crate) async fn call_item(
        &self,
        tenant: TenantId,
        id: CallId,
    ) -> StoreResult<Option<CallItem>> {
        self.get_item::<CallItem>(keys::tenant(tenant), keys::call(id))
            .await
    }

    /// Writes a sub-item of a call once (`attribute_not_exists`): `true` when it is new. It
    /// expires with the call. `counts` (metric updates) go into the same write, so they count
    /// once with it.
    pub(crate) async fn put_once<T: Serialize>(
        &self,
        tenant: TenantId,
        call: CallId,
        sk: String,
        value: &T,
        counts: Vec<TransactWriteItem>,
    ) -> StoreResult<bool> {
        let expires_at = self
            .call_item(tenant, call)
            .await?
            .ok_or_else(|| call_not_found(call))?
            .expires_at;
        let mut items = vec![self.sub_item_put(tenant, sk, expires_at, value)?];
        items.extend(counts);
        Ok(dynamo::transact_guarded(&self.client, items, 0, "recording call data").await?)
    }

    /// The write of a call's sub-item, once, expiring at `expires_at` (the call's).
    pub(crate) fn sub_item_put<T: Serialize>(
        &self,
        tenant: TenantId,
        sk: String,
        expires_at: Option<i64>,
        value: &T,
    ) -> anyhow::Result<TransactWriteItem> {
        let item = SubItem {
            pk: keys::tenant(tenant),
            sk,
            expires_at,
            value,
        };
        self.put(dynamo::to_item(&item)?, "attribute_not_exists(pk)")
    }

    /// A call with the expiry its records take: one GetItem.
    pub async fn stored(&self, tenant: TenantId, id: CallId) -> StoreResult<Option<StoredCall>> {
        Ok(self.call_item(tenant, id).await?.map(|item| StoredCall {
            call: item.call,
            expires_at: item.expires_at,
        }))
    }

    /// The same for a call known by id alone: its tenant from the index, then the call.
    pub async fn find_stored(&self, id: CallId) -> StoreResult<Option<StoredCall>> {
        match self.tenant_of(keys::call(id)).await? {
            Some(tenant) => self.stored(tenant, id).await,
            None => Ok(None),
        }
    }

    pub(crate) async fn query_prefix(
        &self,
        tenant: TenantId,
        prefix: String,
    ) -> StoreResult<Vec<HashMap<String, AttributeValue>>> {
        Ok(dynamo::query_prefix(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            prefix,
            "reading call data",
        )
        .await?)
    }

    /// One page of a tenant's calls, newest first: a key-range Query (call ids are v7, so the
    /// time range bounds the sort key), filters applied as it reads; never a Scan. One request
    /// reads at most [`MAX_CALLS_READ`] call items: a filter that matches few calls answers with
    /// what it found so far and a cursor to continue from, never a walk of the whole range.
    pub async fn page(
        &self,
        tenant: TenantId,
        filter: &CallFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<(Vec<Call>, Option<String>)> {
        let low = format!(
            "CALL#{}",
            filter
                .from
                .map(|f| v7_bound(f, false))
                .unwrap_or_else(|| "0".into())
        );
        let high = format!(
            "CALL#{}",
            filter
                .to
                .map(|t| v7_bound(t, true))
                .unwrap_or_else(|| "g".into())
        );
        let mut start = cursor
            .map(|c| dynamo::cursor_sort_key(c, "CALL#", 64).ok_or_else(StoreError::invalid_cursor))
            .transpose()?
            .map(|sk| dynamo::key(keys::tenant(tenant), sk));
        let mut conditions = Vec::new();
        let mut values: Vec<(&str, AttributeValue)> = Vec::new();
        if let Some(status) = filter.status {
            conditions.push("#status = :status");
            values.push((
                ":status",
                serde_dynamo::to_attribute_value(status).map_err(anyhow::Error::new)?,
            ));
        }
        if let Some(direction) = filter.direction {
            conditions.push("direction = :direction");
            values.push((
                ":direction",
                serde_dynamo::to_attribute_value(direction).map_err(anyhow::Error::new)?,
            ));
        }
        if let Some(agent) = filter.agent_id {
            conditions.push("agent_id = :agent");
            values.push((":agent", s(agent.to_string())));
        }
        if let Some(number) = &filter.number {
            conditions.push("#to = :number");
            values.push((":number", s(number.clone())));
        }
        let mut calls = Vec::new();
        let mut budget = MAX_CALLS_READ;
        loop {
            // DynamoDB's Limit counts items read, matching or not.
            let read = (limit * 2).clamp(10, 200).min(budget);
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", s(keys::tenant(tenant)))
                .expression_attribute_values(":low", s(low.clone()))
                .expression_attribute_values(":high", s(high.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(read).unwrap_or(200))
                .set_exclusive_start_key(start.take());
            if !conditions.is_empty() {
                query = query.filter_expression(conditions.join(" AND "));
                if filter.status.is_some() {
                    query = query.expression_attribute_names("#status", "status");
                }
                if filter.number.is_some() {
                    query = query.expression_attribute_names("#to", "to");
                }
                for (name, value) in &values {
                    query = query.expression_attribute_values(*name, value.clone());
                }
            }
            let output = query
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("listing calls"))?;
            for item in output.items.unwrap_or_default() {
                calls.push(dynamo::from_item::<CallItem>(item)?.call);
                if calls.len() == limit {
                    let last = format!("CALL#{}", calls[limit - 1].id);
                    // More may follow unless this was the very end.
                    return Ok((calls, Some(dynamo::cursor_of(&last))));
                }
            }
            budget = budget.saturating_sub(usize::try_from(output.scanned_count).unwrap_or(read));
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() && budget == 0 => {
                    return Ok((calls, dynamo::next_cursor(Some(&key))));
                }
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((calls, None)),
            }
        }
    }

    /// Every key of a call's data: the call, its transcript, recording and timeline.
    pub(crate) async fn call_data_keys(
        &self,
        tenant: TenantId,
        call: CallId,
    ) -> StoreResult<Vec<HashMap<String, AttributeValue>>> {
        let mut keys_found = vec![dynamo::key(keys::tenant(tenant), keys::call(call))];
        for prefix in [
            format!("TRANSCRIPT#{call}#"),
            format!("RECORDING#{call}"),
            format!("CALLEVT#{call}#"),
        ] {
            for item in self.query_prefix(tenant, prefix).await? {
                if let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) {
                    keys_found.push(HashMap::from([
                        ("pk".to_owned(), pk.clone()),
                        ("sk".to_owned(), sk.clone()),
                    ]));
                }
            }
        }
        Ok(keys_found)
    }
}
