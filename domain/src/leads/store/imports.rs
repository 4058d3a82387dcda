//! Import records: one item per import beside its progress, in its list's partition
//! (`LIST#<list>` / `IMPORT#<id>`) or, for do-not-call imports, the tenant's
//! (`TENANT#<tenant>` / `IMPORT#<id>`).

use super::*;
use crate::leads::model::{ImportState, LeadImport};

#[derive(Serialize, Deserialize)]
struct ImportItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    import: LeadImport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    progress: Option<Progress>,
}

pub fn import_not_found(id: uuid::Uuid) -> StoreError {
    StoreError::not_found("IMPORT_NOT_FOUND", format!("Import {id} not found"))
}

fn state_value(state: ImportState) -> anyhow::Result<AttributeValue> {
    Ok(serde_dynamo::to_attribute_value(state)?)
}

impl LeadStore {
    pub async fn create_import(&self, import: &LeadImport) -> StoreResult<()> {
        let item = ImportItem {
            pk: import.scope().pk(),
            sk: keys::import(import.id),
            import: import.clone(),
            progress: None,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("creating an import"))?;
        Ok(())
    }

    /// The import, its counters as far as it has come.
    pub async fn import(
        &self,
        scope: ImportScope,
        id: uuid::Uuid,
    ) -> StoreResult<Option<LeadImport>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            scope.pk(),
            keys::import(id),
            "reading an import",
        )
        .await?;
        let Some(item) = item.filter(|i| i.contains_key("state")) else {
            return Ok(None);
        };
        let item = dynamo::from_item::<ImportItem>(item)?;
        let mut import = item.import;
        if let Some(progress) = item.progress {
            import.counters = progress.counters;
        }
        Ok(Some(import))
    }

    /// Moves an import to `to` if it is in one of `from`: `false` when it was not.
    pub async fn move_import(
        &self,
        scope: ImportScope,
        id: uuid::Uuid,
        from: &[ImportState],
        to: ImportState,
        failure: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(scope.pk(), keys::import(id))))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":to", state_value(to)?)
            .expression_attribute_values(":now", dynamo::time(now)?);
        let mut allowed = Vec::new();
        for (i, state) in from.iter().enumerate() {
            let name = format!(":from{i}");
            update = update.expression_attribute_values(&name, state_value(*state)?);
            allowed.push(format!("#state = {name}"));
        }
        let mut set = String::from("SET #state = :to, updatedAt = :now");
        if to.finished() {
            set.push_str(", completedAt = :now");
        }
        if let Some(failure) = failure {
            set.push_str(", failure = :failure");
            update = update
                .expression_attribute_values(":failure", AttributeValue::S(failure.to_owned()));
        }
        let written = update
            .update_expression(set)
            .condition_expression(allowed.join(" OR "))
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(false),
            Err(e) => Err(anyhow::Error::new(e).context("moving an import").into()),
        }
    }
}
