//! Legal holds, expiry and deletion of calls.

use super::*;

impl CallStore {
    /// Sets (or lifts) a call's own hold and brings the expiry of all its data in line:
    /// none while the call or its tenant is held, `started_at + retention` otherwise.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, call_id = %call))]
    pub async fn set_call_hold(
        &self,
        tenant: TenantId,
        call: CallId,
        hold: Option<&LegalHold>,
        tenant_held: bool,
    ) -> StoreResult<Call> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::call(call))))
            // A call being deleted was checked for holds when its deletion began.
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .return_values(ReturnValue::AllNew);
        update = match hold {
            Some(hold) => update
                .update_expression("SET legal_hold = :hold")
                .expression_attribute_values(
                    ":hold",
                    serde_dynamo::to_attribute_value(hold).map_err(anyhow::Error::new)?,
                ),
            None => update.update_expression("REMOVE legal_hold"),
        };
        let updated = match update.send().await {
            Ok(output) => {
                dynamo::from_item::<CallItem>(output.attributes.unwrap_or_default())?.call
            }
            Err(e) if dynamo::is_condition_failed(&e) => {
                return Err(match self.get(tenant, call).await? {
                    Some(_) => call_being_deleted(),
                    None => call_not_found(call),
                });
            }
            Err(e) => {
                return Err(StoreError::Dynamo(
                    anyhow::Error::new(e).context("setting a legal hold"),
                ));
            }
        };
        self.apply_expiry(tenant, &updated, tenant_held).await?;
        Ok(updated)
    }

    /// Writes the call's current expiry (or its absence) on every item of its data.
    pub async fn apply_expiry(
        &self,
        tenant: TenantId,
        call: &Call,
        tenant_held: bool,
    ) -> StoreResult<()> {
        let expiry = call.expiry(tenant_held);
        for key in self.call_data_keys(tenant, call.id).await? {
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key));
            let update = match expiry {
                Some(at) => update
                    .update_expression("SET expiresAt = :at")
                    .expression_attribute_values(":at", AttributeValue::N(at.to_string())),
                None => update.update_expression("REMOVE expiresAt"),
            };
            match update
                .condition_expression("attribute_exists(pk)")
                .send()
                .await
            {
                Ok(_) => {}
                // Removed since it was listed (a segment or event of a call being deleted).
                Err(e) if dynamo::is_condition_failed(&e) => {}
                Err(e) => {
                    return Err(StoreError::Dynamo(
                        anyhow::Error::new(e).context("writing a call item's expiry"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Marks a call as being deleted, in one transaction with `tenant_guard` (the tenant is not
    /// held): refused while the call or its tenant is held. From then on no hold can be placed
    /// on it, so a deletion that has begun removes the whole call or, retried, finishes.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, call_id = %call))]
    pub async fn mark_deleting(
        &self,
        tenant: TenantId,
        call: CallId,
        tenant_guard: TransactWriteItem,
        now: DateTime<Utc>,
    ) -> StoreResult<Call> {
        let current = self
            .get(tenant, call)
            .await?
            .ok_or_else(|| call_not_found(call))?;
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::call(call))))
            .update_expression("SET deleting = if_not_exists(deleting, :now)")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(legal_hold)")
            .expression_attribute_values(":now", time(now)?)
            .build()
            .map_err(anyhow::Error::new)?;
        let items = vec![
            TransactWriteItem::builder().update(mark).build(),
            tenant_guard,
        ];
        if let Err(e) = dynamo::transact(&self.client, items, Backoff::default()).await {
            let reasons = dynamo::cancellation_reasons(&e).unwrap_or_default();
            if dynamo::item_condition_failed(&reasons, 1) {
                return Err(legal_hold_active());
            }
            if dynamo::item_condition_failed(&reasons, 0) {
                return Err(match self.get(tenant, call).await? {
                    Some(_) => legal_hold_active(),
                    None => call_not_found(call),
                });
            }
            return Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("marking a call deleted"),
            ));
        }
        Ok(current)
    }

    /// Deletes a call and all its data: marked first ([`Self::mark_deleting`], which checks the
    /// holds), then its transcript, recording and timeline, the call item, and its CallSid marker.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, call_id = %call))]
    pub async fn delete_call(
        &self,
        tenant: TenantId,
        call: CallId,
        tenant_guard: TransactWriteItem,
        now: DateTime<Utc>,
    ) -> StoreResult<Call> {
        let current = self.mark_deleting(tenant, call, tenant_guard, now).await?;
        // The call item last, so a retry after a failure finds the call and finishes.
        for key in self.call_data_keys(tenant, call).await?.into_iter().rev() {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("deleting a call"))?;
        }
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::call_sid(&current.call_sid),
                "CALLSID",
            )))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("deleting a CallSid marker"))?;
        Ok(current)
    }
}
