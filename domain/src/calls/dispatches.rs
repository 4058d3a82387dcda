//! Runtime dispatches: one per call, claimed once, scrubbed when they expire.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DispatchStatus {
    Pending,
    Claimed,
    Expired,
}

/// One call handed to the voice runtime. The join token is stored only until it is claimed or
/// the dispatch expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    pub id: DispatchId,
    pub tenant_id: TenantId,
    pub call_id: CallId,
    pub agent_id: Option<AgentId>,
    pub agent_version_id: Option<AgentVersionId>,
    pub room_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_token: Option<String>,
    pub status: DispatchStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    /// LiveKit's id of the agent dispatch, when LiveKit was asked.
    pub livekit_dispatch_id: Option<String>,
    /// The campaign and lead of a campaign's call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<DispatchCampaign>,
}

/// What the agent knows of the campaign's lead it is calling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DispatchCampaign {
    pub campaign_id: uuid::Uuid,
    /// The lead's number's digits.
    pub lead_id: String,
    pub phone_number: String,
    pub name: Option<String>,
    /// The lead's variables over the campaign's.
    pub variables: std::collections::BTreeMap<String, String>,
}

/// A dispatch as the runtime may read it: never the token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DispatchView {
    pub id: DispatchId,
    pub tenant_id: TenantId,
    pub call_id: CallId,
    pub agent_id: Option<AgentId>,
    pub agent_version_id: Option<AgentVersionId>,
    pub room_name: String,
    pub status: DispatchStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub livekit_dispatch_id: Option<String>,
    /// The campaign and lead of a campaign's call (its variables for the agent).
    pub campaign: Option<DispatchCampaign>,
}

impl Dispatch {
    pub fn view(&self) -> DispatchView {
        DispatchView {
            id: self.id,
            tenant_id: self.tenant_id,
            call_id: self.call_id,
            agent_id: self.agent_id,
            agent_version_id: self.agent_version_id,
            room_name: self.room_name.clone(),
            status: self.status,
            expires_at: self.expires_at,
            created_at: self.created_at,
            claimed_at: self.claimed_at,
            livekit_dispatch_id: self.livekit_dispatch_id.clone(),
            campaign: self.campaign.clone(),
        }
    }
}

impl CallStore {
    /// Creates the call's one dispatch, or returns the one that exists: `(dispatch, true)` when
    /// new. The same transaction takes the handoff off the call's CallSid marker (`call_sid`),
    /// so a webhook redelivered afterwards does not queue it again.
    #[tracing::instrument(skip_all, fields(tenant_id = %dispatch.tenant_id, call_id = %dispatch.call_id))]
    pub async fn create_dispatch(
        &self,
        dispatch: &Dispatch,
        call_sid: &str,
    ) -> StoreResult<(Dispatch, bool)> {
        let link = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(dispatch.tenant_id),
                keys::call(dispatch.call_id),
            )))
            .update_expression("SET dispatch_id = :dispatch")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(dispatch_id)")
            .expression_attribute_values(":dispatch", s(dispatch.id.to_string()))
            .build()
            .map_err(anyhow::Error::new)?;
        let item = DispatchItem {
            pk: keys::tenant(dispatch.tenant_id),
            sk: keys::dispatch(dispatch.id),
            gsi1pk: keys::dispatch(dispatch.id),
            gsi1sk: "DISPATCH".into(),
            gsi2pk: Some(keys::PENDING.into()),
            gsi2sk: Some(dynamo::due_key(dispatch.expires_at, dispatch.id)),
            expires_ms: dispatch.expires_at.timestamp_millis(),
            dispatch: dispatch.clone(),
        };
        let handed_off = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::call_sid(call_sid), "CALLSID")))
            .update_expression("REMOVE handoff_due")
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(anyhow::Error::new)?;
        let items = vec![
            TransactWriteItem::builder().update(link).build(),
            self.put(dynamo::to_item(&item)?, "attribute_not_exists(pk)")?,
            TransactWriteItem::builder().update(handed_off).build(),
        ];
        if dynamo::transact_guarded(&self.client, items, 0, "creating a dispatch").await? {
            return Ok((dispatch.clone(), true));
        }
        let call = self
            .get(dispatch.tenant_id, dispatch.call_id)
            .await?
            .ok_or_else(|| call_not_found(dispatch.call_id))?;
        let existing = match call.dispatch_id {
            Some(id) => self.dispatch(dispatch.tenant_id, id).await?,
            None => None,
        };
        existing.map(|d| (d, false)).ok_or_else(|| {
            StoreError::Dynamo(anyhow::anyhow!("call has no dispatch after a lost race"))
        })
    }

    /// Records LiveKit's id of the agent dispatch.
    pub async fn set_livekit_dispatch(
        &self,
        dispatch: &Dispatch,
        livekit_id: &str,
    ) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(dispatch.tenant_id),
                keys::dispatch(dispatch.id),
            )))
            .update_expression("SET livekit_dispatch_id = :id")
            .expression_attribute_values(":id", s(livekit_id))
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("recording the LiveKit dispatch"))?;
        Ok(())
    }

    pub async fn dispatch(
        &self,
        tenant: TenantId,
        id: DispatchId,
    ) -> StoreResult<Option<Dispatch>> {
        Ok(self
            .get_item::<DispatchItem>(keys::tenant(tenant), keys::dispatch(id))
            .await?
            .map(|i| i.dispatch))
    }

    pub async fn dispatch_tenant(&self, id: DispatchId) -> StoreResult<Option<TenantId>> {
        self.tenant_of(keys::dispatch(id)).await
    }

    /// Moves a pending, unexpired dispatch to claimed and takes its token out, in one write; the
    /// token comes back from that write, so it is handed out exactly once.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn claim(
        &self,
        tenant: TenantId,
        id: DispatchId,
        by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Claim> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::dispatch(id))))
            .update_expression("SET #status = :claimed, claimed_at = :now, claimed_by = :by REMOVE join_token, gsi2pk, gsi2sk")
            .condition_expression("#status = :pending AND expires_ms > :now_ms")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", time(now)?)
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":now_ms", AttributeValue::N(now.timestamp_millis().to_string()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let mut dispatch =
                    dynamo::from_item::<DispatchItem>(output.attributes.unwrap_or_default())?
                        .dispatch;
                dispatch.status = DispatchStatus::Claimed;
                dispatch.claimed_at = Some(now);
                dispatch.claimed_by = Some(by.to_owned());
                Ok(Claim::Won(Box::new(dispatch)))
            }
            Err(e) if dynamo::is_condition_failed(&e) => {
                let old = e.as_service_error().and_then(|e| match e {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                });
                let Some(old) = old.filter(|o| !o.is_empty()) else {
                    return Err(dispatch_not_found(id));
                };
                let status = old
                    .get("status")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str);
                Ok(if status == Some("claimed") {
                    Claim::AlreadyClaimed
                } else {
                    Claim::Expired
                })
            }
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("claiming a dispatch"),
            )),
        }
    }

    /// Pending dispatches whose time ran out before `now`, from the sparse index.
    pub async fn expired_dispatches(
        &self,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(TenantId, DispatchId)>> {
        let items = dynamo::due_before(
            &self.client,
            &self.table,
            keys::PENDING_INDEX,
            keys::PENDING,
            now,
            None,
        )
        .await
        .map_err(|e| e.context("finding expired dispatches"))?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let tenant = text("pk")?.strip_prefix("TENANT#")?.parse().ok()?;
                let id = text("sk")?.strip_prefix("DISPATCH#")?.parse().ok()?;
                Some((tenant, id))
            })
            .collect())
    }

    /// Expires a dispatch that is still pending and scrubs its token; `false` when it was
    /// claimed (or expired) meanwhile.
    pub async fn expire(
        &self,
        tenant: TenantId,
        id: DispatchId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(keys::tenant(tenant), keys::dispatch(id))))
            .update_expression(
                "SET #status = :expired, expired_at = :now REMOVE join_token, gsi2pk, gsi2sk",
            )
            .condition_expression("#status = :pending AND expires_ms <= :now_ms")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expired", s("expired"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", time(now)?)
            .expression_attribute_values(
                ":now_ms",
                AttributeValue::N(now.timestamp_millis().to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::Dynamo(
                anyhow::Error::new(e).context("expiring a dispatch"),
            )),
        }
    }
}
