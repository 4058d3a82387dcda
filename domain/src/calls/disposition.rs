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

impl CallStore {
    /// Sets `call`'s disposition, unless it has the same code and data already; the timeline
    /// records a `disposition` event for every change (with the code it replaced).
    pub async fn set_disposition(
        &self,
        call: &Call,
        disposition: &CallDisposition,
    ) -> StoreResult<DispositionSet> {
        let value = serde_dynamo::to_attribute_value(disposition).map_err(anyhow::Error::new)?;
        let code = AttributeValue::S(disposition.code.clone());
        let data =
            serde_dynamo::to_attribute_value(&disposition.data).map_err(anyhow::Error::new)?;
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(call.tenant_id),
                keys::call(call.id),
            )))
            .update_expression("SET disposition = :disposition")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(disposition) \
                 OR disposition.code <> :code OR disposition.#data <> :data)",
            )
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":disposition", value)
            .expression_attribute_values(":code", code)
            .expression_attribute_values(":data", data)
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        let previous = match written {
            Ok(output) => output
                .attributes
                .and_then(|mut old| old.remove("disposition"))
                .map(serde_dynamo::from_attribute_value::<_, CallDisposition>)
                .transpose()
                .map_err(anyhow::Error::new)?,
            // The call is gone, or has this disposition already.
            Err(e) if dynamo::is_condition_failed(&e) => {
                return match self.get(call.tenant_id, call.id).await? {
                    Some(_) => Ok(DispositionSet::Unchanged),
                    None => Err(call_not_found(call.id)),
                };
            }
            Err(e) => {
                return Err(StoreError::Dynamo(
                    anyhow::Error::new(e).context("setting a disposition"),
                ));
            }
        };
        let mut detail = serde_json::json!({"code": disposition.code});
        if let Some(previous) = &previous {
            detail["replaced"] = previous.code.clone().into();
        }
        self.record_event(
            call.tenant_id,
            &CallEvent {
                id: uuid::Uuid::now_v7(),
                call_id: call.id,
                kind: "disposition".into(),
                detail,
                at: disposition.at,
            },
        )
        .await?;
        Ok(match previous {
            Some(previous) => DispositionSet::Replaced { previous },
            None => DispositionSet::First,
        })
    }
}
