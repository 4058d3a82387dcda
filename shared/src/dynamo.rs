//! DynamoDB helpers every store uses: the client, error classification and bounded retries.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue;

/// Loads the shared AWS config once; `AWS_ENDPOINT_URL_<SERVICE>` points it at local emulators.
/// No AWS call waits longer than this, retries included: well inside the HTTP functions' 10 s
/// timeout (`template.yaml`), so a dependency that does not answer is a 503 the caller can
/// retry, never a Lambda timeout whose write may still land.
pub const OPERATION_TIMEOUT_SECONDS: u64 = 5;
/// One attempt of an AWS call; long polls must end sooner.
pub const ATTEMPT_TIMEOUT_SECONDS: u64 = 2;

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::https::sdk_http_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(ATTEMPT_TIMEOUT_SECONDS))
                .operation_timeout(Duration::from_secs(OPERATION_TIMEOUT_SECONDS))
                .build(),
        )
        .load()
        .await
}

pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    Client::new(sdk)
}

/// A conditional write lost: the item was not in the state the condition required.
pub fn is_condition_failed<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// Why each item of a cancelled transaction failed, in request order (`None` where it did not).
pub fn cancellation_reasons<R>(
    error: &SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<Option<String>>> {
    match error.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// Whether the transaction item at `index` failed its condition.
pub fn item_condition_failed(reasons: &[Option<String>], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed")
}

/// A concurrent transaction touched the same items; the write may succeed when tried again.
pub fn is_transaction_conflict<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
        _ => cancellation_reasons(error)
            .is_some_and(|reasons| reasons.iter().flatten().any(|c| c == "TransactionConflict")),
    }
}

/// Bounded exponential backoff with jitter, for writes that lost a race and may be retried.
#[derive(Debug, Clone)]
pub struct Backoff {
    attempt: u32,
    max_attempts: u32,
    base: Duration,
}

impl Backoff {
    pub fn new(max_attempts: u32, base: Duration) -> Self {
        Self {
            attempt: 0,
            max_attempts,
            base,
        }
    }

    /// Sleeps before the next try; `false` once the attempts are used up.
    pub async fn wait(&mut self) -> bool {
        self.attempt += 1;
        if self.attempt >= self.max_attempts {
            return false;
        }
        let exp = self.base * 2u32.saturating_pow(self.attempt - 1);
        let jitter = Duration::from_millis(u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20);
        tokio::time::sleep(exp + jitter).await;
        true
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(6, Duration::from_millis(15))
    }
}

/// Error of a transactional write, as the SDK reports it.
pub type TransactError =
    SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>;

/// Runs a transaction, trying again (bounded, with backoff) while it only lost a race with a
/// concurrent transaction; any other outcome is returned for the caller to map.
pub async fn transact(
    client: &Client,
    items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    mut backoff: Backoff,
) -> Result<(), TransactError> {
    loop {
        match client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if is_transaction_conflict(&e) && backoff.wait().await => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Deletes items by key, 25 per BatchWriteItem (DynamoDB's most), retrying what DynamoDB
/// leaves unprocessed with bounded backoff.
pub async fn delete_keys(
    client: &Client,
    table: &str,
    keys: Vec<std::collections::HashMap<String, AttributeValue>>,
) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
    for chunk in keys.chunks(25) {
        let mut left = chunk
            .iter()
            .map(|key| {
                Ok(WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key.clone()))
                            .build()?,
                    )
                    .build())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut backoff = Backoff::default();
        while !left.is_empty() {
            let output = client
                .batch_write_item()
                .request_items(table, std::mem::take(&mut left))
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context("deleting a batch of items"))?;
            left = output
                .unprocessed_items
                .and_then(|mut u| u.remove(table))
                .unwrap_or_default();
            if !left.is_empty() && !backoff.wait().await {
                anyhow::bail!("DynamoDB kept deletes of a batch unprocessed");
            }
        }
    }
    Ok(())
}

/// A string attribute (DynamoDB type `S`).
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute (DynamoDB type `N`).
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A moment, stored the way every item stores its timestamps.
pub fn time(at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<AttributeValue> {
    Ok(serde_dynamo::to_attribute_value(at)?)
}

/// The item at (`pk`, `sk`), read consistently; `doing` describes a failure.
pub async fn read_item(
    client: &Client,
    table: &str,
    pk: impl Into<String>,
    sk: impl Into<String>,
    doing: &'static str,
) -> anyhow::Result<Option<std::collections::HashMap<String, AttributeValue>>> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e).context(doing))?;
    Ok(output.item)
}

/// A transaction item that writes nothing and holds while the item at `key` of `table` meets
/// `condition` (with `values`).
pub fn condition_check(
    table: &str,
    key: std::collections::HashMap<String, AttributeValue>,
    condition: &str,
    values: &[(&str, AttributeValue)],
) -> anyhow::Result<aws_sdk_dynamodb::types::TransactWriteItem> {
    let mut check = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition);
    for (name, value) in values {
        check = check.expression_attribute_values(*name, value.clone());
    }
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .condition_check(check.build()?)
        .build())
}

/// How a transaction whose items carry conditions ended.
#[derive(Debug)]
pub enum TransactOutcome {
    Written,
    /// The condition of the item at `index` failed (the first, in request order); `item` is
    /// that item as it was, when its write asked for it
    /// (`ReturnValuesOnConditionCheckFailure::AllOld`) and it existed.
    ConditionFailed {
        index: usize,
        item: Option<std::collections::HashMap<String, AttributeValue>>,
    },
}

/// Runs a transaction (retried while it only lost a race, [`transact`]) and tells which
/// condition failed, if one did; any other failure is an internal error described by `doing`.
pub async fn transact_conditional(
    client: &Client,
    items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    doing: &'static str,
) -> anyhow::Result<TransactOutcome> {
    let error = match transact(client, items, Backoff::default()).await {
        Ok(()) => return Ok(TransactOutcome::Written),
        Err(e) => e,
    };
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        error.as_service_error()
        && let Some((index, reason)) = cancelled
            .cancellation_reasons()
            .iter()
            .enumerate()
            .find(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
    {
        return Ok(TransactOutcome::ConditionFailed {
            index,
            item: reason.item().filter(|i| !i.is_empty()).cloned(),
        });
    }
    Err(anyhow::Error::new(error).context(doing))
}

/// Runs a transaction whose item `guard` carries the condition that decides it: `true` when
/// written, `false` when that condition failed (the caller decides what losing means); any
/// other failure, another item's condition among them, is an internal error described by `doing`.
pub async fn transact_guarded(
    client: &Client,
    items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    guard: usize,
    doing: &'static str,
) -> anyhow::Result<bool> {
    match transact_conditional(client, items, doing).await? {
        TransactOutcome::Written => Ok(true),
        TransactOutcome::ConditionFailed { index, .. } if index == guard => Ok(false),
        TransactOutcome::ConditionFailed { index, .. } => {
            anyhow::bail!("{doing}: the condition of transaction item {index} failed")
        }
    }
}

/// The items at `keys` (any number: read 100 to a request; keys DynamoDB leaves unprocessed
/// are asked for again with backoff), strongly consistent; `doing` describes a failure.
pub async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<std::collections::HashMap<String, AttributeValue>>,
    doing: &'static str,
) -> anyhow::Result<Vec<std::collections::HashMap<String, AttributeValue>>> {
    let mut items = Vec::new();
    for chunk in keys.chunks(100) {
        let mut keys_left = chunk.to_vec();
        let mut backoff = Backoff::default();
        while !keys_left.is_empty() {
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys_left)))
                .consistent_read(true)
                .build()?;
            let output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| anyhow::Error::new(e).context(doing))?;
            items.extend(
                output
                    .responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default(),
            );
            keys_left = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if !keys_left.is_empty() && !backoff.wait().await {
                anyhow::bail!("DynamoDB kept keys unprocessed: {doing}");
            }
        }
    }
    Ok(items)
}

/// Every item a query finds, following every page: `query` sets the query's table and
/// conditions; `doing` describes a failure.
pub async fn query_all(
    client: &Client,
    query: impl Fn(QueryFluentBuilder) -> QueryFluentBuilder,
    doing: &'static str,
) -> anyhow::Result<Vec<std::collections::HashMap<String, AttributeValue>>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = query(client.query())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context(doing))?;
        items.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}

/// Every item of partition `pk` whose sort key is from `from` to `to` (inclusive), in sort-key
/// order, following every page; `doing` describes a failure.
pub async fn query_between(
    client: &Client,
    table: &str,
    pk: String,
    from: String,
    to: String,
    doing: &'static str,
) -> anyhow::Result<Vec<std::collections::HashMap<String, AttributeValue>>> {
    let query = |q: QueryFluentBuilder| {
        q.table_name(table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":from", AttributeValue::S(from.clone()))
            .expression_attribute_values(":to", AttributeValue::S(to.clone()))
    };
    query_all(client, query, doing).await
}

/// Every item of partition `pk` whose sort key starts with `prefix`, in sort-key order,
/// following every page; strongly consistent, so a write just made is seen.
pub async fn query_prefix(
    client: &Client,
    table: &str,
    pk: String,
    prefix: String,
    doing: &'static str,
) -> anyhow::Result<Vec<std::collections::HashMap<String, AttributeValue>>> {
    let query = |q: QueryFluentBuilder| {
        q.table_name(table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.clone()))
            .consistent_read(true)
    };
    query_all(client, query, doing).await
}

/// The opaque cursor of a page that ended at sort key `sk`.
pub fn cursor_of(sk: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk)
}

/// The cursor of the page after a Query page, from its `LastEvaluatedKey` (none at the end).
pub fn next_cursor(
    last_evaluated_key: Option<&std::collections::HashMap<String, AttributeValue>>,
) -> Option<String> {
    last_evaluated_key
        .and_then(|key| key.get("sk"))
        .and_then(|sk| sk.as_s().ok())
        .map(|sk| cursor_of(sk))
}

/// The sort key a cursor from [`cursor_of`] stands for; anything that does not decode to a sort
/// key starting with `prefix`, shorter than `max_len` bytes, was not a cursor this API returned
/// (`None`).
pub fn cursor_sort_key(cursor: &str, prefix: &str, max_len: usize) -> Option<String> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|sk| sk.starts_with(prefix) && sk.len() < max_len)
}

/// Sort key of an item in a sparse "due" index: when it falls due (13-digit epoch ms), then
/// its id, so a `< cutoff` query finds everything due before a moment.
pub fn due_key(at: chrono::DateTime<chrono::Utc>, id: impl std::fmt::Display) -> String {
    format!("{:013}#{id}", at.timestamp_millis().max(0))
}

/// The due-key prefix of `now`: every [`due_key`] that fell due before `now` sorts below it.
pub fn due_cutoff(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("{:013}", now.timestamp_millis().max(0))
}

/// Every item of a sparse due index (`<index>pk` = `partition`, `<index>sk` from [`due_key`])
/// that fell due before `now`, oldest first: time-based work without a Scan. With `limit`, one
/// page of at most that many (a backlog is worked off a page at a time); without, every page.
pub async fn due_before(
    client: &Client,
    table: &str,
    index: &str,
    partition: &str,
    now: chrono::DateTime<chrono::Utc>,
    limit: Option<i32>,
) -> anyhow::Result<Vec<std::collections::HashMap<String, AttributeValue>>> {
    let cutoff = due_cutoff(now);
    let query = |q: QueryFluentBuilder| {
        q.table_name(table)
            .index_name(index)
            .key_condition_expression("#pk = :partition AND #sk < :cutoff")
            .expression_attribute_names("#pk", format!("{index}pk"))
            .expression_attribute_names("#sk", format!("{index}sk"))
            .expression_attribute_values(":partition", AttributeValue::S(partition.to_owned()))
            .expression_attribute_values(":cutoff", AttributeValue::S(cutoff.clone()))
    };
    let Some(limit) = limit else {
        return query_all(client, query, "reading a due index").await;
    };
    let output = query(client.query())
        .limit(limit)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e).context("reading a due index"))?;
    Ok(output.items.unwrap_or_default())
}

/// The tenant owning the item whose `gsi1pk` is `id_key`, read from the keys-only `gsi1` index
/// of tables whose items live under `pk = TENANT#<id>`: finds a thing known by id alone.
pub async fn tenant_by_id(
    client: &Client,
    table: &str,
    id_key: String,
) -> anyhow::Result<Option<crate::ids::TenantId>> {
    let output = client
        .query()
        .table_name(table)
        .index_name("gsi1")
        .key_condition_expression("gsi1pk = :id")
        .expression_attribute_values(":id", AttributeValue::S(id_key))
        .limit(1)
        .send()
        .await?;
    Ok(output
        .items
        .unwrap_or_default()
        .first()
        .and_then(|item| item.get("pk").and_then(|v| v.as_s().ok()))
        .and_then(|pk| pk.strip_prefix("TENANT#"))
        .and_then(|t| t.parse().ok()))
}

/// Whether DynamoDB answers for this table; used by `/health/db`.
pub async fn ping(client: &Client, table: &str) -> anyhow::Result<()> {
    client.describe_table().table_name(table).send().await?;
    Ok(())
}

/// Opens the client's connection during a function's init, where the first request of an
/// invocation is latency-bound (a caller waits on it): one GetItem of a key no item has, in a
/// table the function reads, which also loads credentials and resolves the endpoint. A failure
/// is logged and changes nothing: the first invocation connects as it would have.
pub async fn warm(client: &Client, table: &str) {
    let read = client
        .get_item()
        .table_name(table)
        .set_key(Some(key("WARMUP", "WARMUP")))
        .send();
    warm_with("DynamoDB", read).await;
}

/// Runs `request`, a cheap call of `service` made only to open its connection during init, for
/// at most 2 s; its answer is dropped and a failure or timeout is logged, nothing more.
pub async fn warm_with<T, E: std::error::Error>(
    service: &str,
    request: impl std::future::Future<Output = Result<T, E>>,
) {
    match tokio::time::timeout(Duration::from_secs(2), request).await {
        Ok(Ok(_)) => tracing::debug!("{service} connection warm"),
        Ok(Err(e)) => {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "warming the {service} connection failed")
        }
        Err(_) => tracing::warn!("warming the {service} connection timed out"),
    }
}

/// The primary key of an item in any GOBI table: every table keys on `pk` and `sk`.
pub fn key(
    pk: impl Into<String>,
    sk: impl Into<String>,
) -> std::collections::HashMap<String, AttributeValue> {
    std::collections::HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ])
}

/// Maps a typed record to a DynamoDB item.
pub fn to_item<T: serde::Serialize>(
    value: &T,
) -> anyhow::Result<std::collections::HashMap<String, AttributeValue>> {
    Ok(serde_dynamo::to_item(value)?)
}

/// Maps a DynamoDB item to a typed record.
pub fn from_item<T: serde::de::DeserializeOwned>(
    item: std::collections::HashMap<String, AttributeValue>,
) -> anyhow::Result<T> {
    Ok(serde_dynamo::from_item(item)?)
}
