//! A call's disposition: how it ended for the business, one per call. A second replaces the
//! first, and the timeline says so.

use super::*;

/// How the call ended for the business, as the runtime reported it (a copy of the tenant's
/// disposition at that moment, with the runtime's data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallDisposition {
    pub code: String,
    pub label: String,
    pub success: bool,
    pub terminal: bool,
    /// Free-form, from the runtime (at most 8 KiB).
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    pub at: DateTime<Utc>,
}

/// What setting a disposition did.
#[derive(Debug, Clone, PartialEq)]
pub enum DispositionSet {
    /// The call had none.
    First,
    /// The call had another (or the same code with other data); it is replaced.
    Replaced { previous: CallDisposition },
    /// The call has this one already (a repeated report): nothing changed.
    Unchanged,
}

/// The day counter of a disposition code (`disp_<code>`, beside `calls`, `answered`, ...).
pub fn disposition_counter(code: &str) -> String {
    format!("{DISPOSITION_COUNTER_PREFIX}{code}")
}

pub const DISPOSITION_COUNTER_PREFIX: &str = "disp_";

impl CallStore {
    /// Sets the call's disposition, unless it has the same code and data already. One
    /// transaction writes the call (on the condition that its disposition is still the one read),
    /// a `disposition` event on its timeline (naming the code it replaced), and the day's
    /// counters (the new code and `successes` up, the replaced ones down), so they stay exact
    /// however reports repeat or race; a lost race is read again.
    pub async fn set_disposition(
        &self,
        call: &Call,
        disposition: &CallDisposition,
    ) -> StoreResult<DispositionSet> {
        for _ in 0..3 {
            let item = self
                .call_item(call.tenant_id, call.id)
                .await?
                .ok_or_else(|| call_not_found(call.id))?;
            let previous = item.call.disposition.clone();
            if previous
                .as_ref()
                .is_some_and(|p| p.code == disposition.code && p.data == disposition.data)
            {
                return Ok(DispositionSet::Unchanged);
            }
            let mut writes = vec![
                self.disposition_update(call, disposition, previous.as_ref())?,
                self.disposition_event(call, disposition, previous.as_ref(), item.expires_at)?,
            ];
            let mut adds: std::collections::BTreeMap<String, i64> = Default::default();
            *adds
                .entry(disposition_counter(&disposition.code))
                .or_default() += 1;
            *adds.entry("successes".into()).or_default() += i64::from(disposition.success);
            if let Some(previous) = &previous {
                *adds.entry(disposition_counter(&previous.code)).or_default() -= 1;
                *adds.entry("successes".into()).or_default() -= i64::from(previous.success);
            }
            let adds: Vec<(&str, i64)> = adds
                .iter()
                .filter(|(_, n)| **n != 0)
                .map(|(name, n)| (name.as_str(), *n))
                .collect();
            if !adds.is_empty() {
                writes.extend(self.count(&call.metric_scope(), &adds)?);
            }
            if dynamo::transact_guarded(&self.client, writes, 0, "setting a disposition").await? {
                return Ok(match previous {
                    Some(previous) => DispositionSet::Replaced { previous },
                    None => DispositionSet::First,
                });
            }
        }
        Err(StoreError::concurrent(
            "The call's disposition kept changing; report it again",
        ))
    }

    /// The call's new disposition, on the condition that it still has `previous`.
    fn disposition_update(
        &self,
        call: &Call,
        disposition: &CallDisposition,
        previous: Option<&CallDisposition>,
    ) -> anyhow::Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(call.tenant_id),
                keys::call(call.id),
            )))
            .update_expression("SET disposition = :disposition")
            .expression_attribute_values(
                ":disposition",
                serde_dynamo::to_attribute_value(disposition)?,
            );
        update = match previous {
            None => update
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(disposition)"),
            Some(previous) => update
                .condition_expression(
                    "attribute_exists(pk) AND disposition.code = :code AND disposition.#at = :at",
                )
                .expression_attribute_names("#at", "at")
                .expression_attribute_values(":code", AttributeValue::S(previous.code.clone()))
                .expression_attribute_values(":at", dynamo::time(previous.at)?),
        };
        Ok(TransactWriteItem::builder().update(update.build()?).build())
    }

    /// The timeline's entry for a new disposition; it expires with the call.
    fn disposition_event(
        &self,
        call: &Call,
        disposition: &CallDisposition,
        previous: Option<&CallDisposition>,
        expires_at: Option<i64>,
    ) -> anyhow::Result<TransactWriteItem> {
        let mut detail = serde_json::json!({"code": disposition.code});
        if let Some(previous) = previous {
            detail["replaced"] = previous.code.clone().into();
        }
        let event = CallEvent {
            id: uuid::Uuid::now_v7(),
            call_id: call.id,
            kind: "disposition".into(),
            detail,
            at: disposition.at,
        };
        let item = SubItem {
            pk: keys::tenant(call.tenant_id),
            sk: format!("CALLEVT#{}#{}", call.id, event.id),
            expires_at,
            value: &event,
        };
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(dynamo::to_item(&item)?))
                    .build()?,
            )
            .build())
    }
}
