//! One page of a partition's items under a sort-key prefix, with the opaque cursor of the next.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use gobi_shared::dynamo;

use crate::error::{StoreError, StoreResult};

/// Items of partition `pk` whose sort key starts with `prefix`, in key order, after `cursor`
/// (one this API issued: `INVALID_CURSOR` otherwise), at most `limit`.
pub async fn page<T: serde::de::DeserializeOwned>(
    client: &Client,
    table: &str,
    pk: String,
    prefix: &str,
    limit: u32,
    cursor: Option<&str>,
) -> StoreResult<(Vec<T>, Option<String>)> {
    let start = cursor
        .filter(|c| !c.is_empty())
        .map(|c| dynamo::cursor_sort_key(c, prefix, 64).ok_or_else(StoreError::invalid_cursor))
        .transpose()?;
    let output = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
        .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
        .set_exclusive_start_key(start.map(|sk| dynamo::key(pk, sk)))
        .limit(i32::try_from(limit).unwrap_or(100))
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e).context("reading a page"))?;
    let items = output
        .items
        .unwrap_or_default()
        .into_iter()
        .map(dynamo::from_item::<T>)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((
        items,
        dynamo::next_cursor(output.last_evaluated_key.as_ref()),
    ))
}
