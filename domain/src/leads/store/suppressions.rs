//! The tenant's do-not-call list.

use super::*;

impl LeadStore {
    /// Puts `e164` on the tenant's do-not-call list (again: the first entry stays).
    pub async fn suppress(&self, suppression: &Suppression) -> StoreResult<Suppression> {
        let item = SuppressionItem {
            pk: keys::tenant(suppression.tenant_id),
            sk: keys::suppression(&suppression.phone_number),
            suppression: suppression.clone(),
        };
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match written {
            Ok(_) => Ok(suppression.clone()),
            Err(e) if dynamo::is_condition_failed(&e) => Ok(self
                .suppression(suppression.tenant_id, &suppression.phone_number)
                .await?
                .unwrap_or_else(|| suppression.clone())),
            Err(e) => Err(anyhow::Error::new(e).context("suppressing a number").into()),
        }
    }

    pub async fn suppression(
        &self,
        tenant: TenantId,
        e164: &str,
    ) -> StoreResult<Option<Suppression>> {
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            keys::tenant(tenant),
            keys::suppression(e164),
            "reading a suppression",
        )
        .await?;
        Ok(item
            .map(dynamo::from_item::<SuppressionItem>)
            .transpose()?
            .map(|i| i.suppression))
    }

    /// The tenant's do-not-call list in number order, a page at a time.
    pub async fn suppressions_page(
        &self,
        tenant: TenantId,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<(Vec<Suppression>, Option<String>)> {
        let (items, next) = self
            .page::<SuppressionItem>(keys::tenant(tenant), "DNC#", limit, cursor)
            .await?;
        Ok((items.into_iter().map(|i| i.suppression).collect(), next))
    }

    /// Takes `e164` off the tenant's do-not-call list: the entry it had, if any.
    pub async fn unsuppress(
        &self,
        tenant: TenantId,
        e164: &str,
    ) -> StoreResult<Option<Suppression>> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::tenant(tenant),
                keys::suppression(e164),
            )))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("removing a suppression"))?;
        Ok(output
            .attributes
            .filter(|a| !a.is_empty())
            .map(dynamo::from_item::<SuppressionItem>)
            .transpose()?
            .map(|i| i.suppression))
    }
}
