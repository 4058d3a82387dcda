//! One page of a partition's items under a sort-key prefix, with the opaque cursor of the next;
//! and a filtered page, read on until it is full or a bound of items was examined.

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

/// Where a filtered page reads from and how much it may examine.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a> {
    pub pk: &'a str,
    pub prefix: &'a str,
    /// Items wanted.
    pub limit: u32,
    pub cursor: Option<&'a str>,
    /// Items looked at, at most, whatever matched.
    pub max_examined: usize,
}

/// The items of a partition's prefix that `keep` accepts, in key order: pages are read until
/// `limit` match or `max_examined` items were looked at, so a filtered page is full unless the
/// partition ends or the bound is reached (then the cursor continues after the last item
/// examined). `sk` names an item's sort key.
pub async fn matching<T: serde::de::DeserializeOwned>(
    client: &Client,
    table: &str,
    scan: Scan<'_>,
    sk: impl Fn(&T) -> &str,
    keep: impl Fn(&T) -> bool,
) -> StoreResult<(Vec<T>, Option<String>)> {
    let wanted = usize::try_from(scan.limit).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    let mut examined = 0;
    let mut cursor = scan.cursor.map(str::to_owned);
    loop {
        let read =
            u32::try_from(scan.max_examined.saturating_sub(examined).clamp(1, 200)).unwrap_or(200);
        let (page, next) = page::<T>(
            client,
            table,
            scan.pk.to_owned(),
            scan.prefix,
            read,
            cursor.as_deref(),
        )
        .await?;
        for item in page {
            examined += 1;
            let last = dynamo::cursor_of(sk(&item));
            if keep(&item) {
                found.push(item);
            }
            if found.len() == wanted || examined >= scan.max_examined {
                return Ok((found, Some(last)));
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok((found, None)),
        }
    }
}
