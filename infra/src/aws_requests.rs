//! Records every AWS request a function makes, so the test suite can check each function's IAM
//! policy in `template.yaml` against what its code really does (`tests/tests/iam.rs`).
//!
//! Code runs "as" a function inside [`as_function`] (the local router wraps each function's
//! routes, the local worker loops wrap their polls, tests wrap the worker calls they make). An SDK
//! interceptor ([`RecordAwsRequests`]) reads each request as it is sent (its endpoint resolved):
//! the operation from `X-Amz-Target` and the table, index, queue or key from the JSON body, or for
//! S3 the method and the bucket in the path — and, when the environment
//! names a file in `GOBI_AWS_REQUEST_LOG`, appends one JSON line per IAM action it needs. Names
//! are written as the template's logical ids where [`name_resource`] was told them. Requests made
//! outside any function (a test reading a store directly, provisioning) are not written.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{LazyLock, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The variable naming the file requests are appended to.
pub const LOG_VARIABLE: &str = "GOBI_AWS_REQUEST_LOG";

tokio::task_local! {
    static FUNCTION: &'static str;
    static COUNTED: std::sync::Arc<Mutex<Vec<String>>>;
}

/// Runs `work` and returns, beside its output, every AWS request it sent, in order, one entry
/// per HTTP request (a retry is another request): `dynamodb:Query`, `sqs:SendMessage`, ...
/// The request-count goals are tests over these (counts, not times).
pub async fn counted<F: Future>(work: F) -> (F::Output, Vec<String>) {
    let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
    let output = COUNTED.scope(requests.clone(), work).await;
    let sent = requests.lock().map(|r| r.clone()).unwrap_or_default();
    (output, sent)
}

/// Notes one request in the [`counted`] scope it is sent from, if any.
fn count(operation: String) {
    let _ = COUNTED.try_with(|requests| {
        if let Ok(mut requests) = requests.lock() {
            requests.push(operation);
        }
    });
}

/// Runs `work` as the function `logical_id` (a function's logical id in `template.yaml`).
pub async fn as_function<F: Future>(logical_id: &'static str, work: F) -> F::Output {
    FUNCTION.scope(logical_id, work).await
}

/// Every request of `router` runs as the function `logical_id`.
pub fn scoped(logical_id: &'static str, router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            as_function(logical_id, next.run(request))
        },
    ))
}

/// One IAM action a request needed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AwsRequest {
    pub function: String,
    /// `dynamodb:GetItem`, `sqs:SendMessage`, `kms:Decrypt`, ...
    pub action: String,
    /// The table, queue or key: its logical id when known, else its name.
    pub resource: String,
    /// A DynamoDB index, when the request read one.
    pub index: Option<String>,
    /// The keys of a KMS request's encryption context (policies may limit them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_keys: Vec<String>,
}

static NAMES: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Mutex::default);

/// Tells the recorder that `name` (a table name, queue URL or key alias) is `logical_id`.
pub fn name_resource(name: &str, logical_id: &str) {
    if let Ok(mut names) = NAMES.lock() {
        names.insert(name.to_owned(), logical_id.to_owned());
    }
}

fn logical(name: &str) -> String {
    NAMES
        .lock()
        .ok()
        .and_then(|names| names.get(name).cloned())
        .unwrap_or_else(|| name.to_owned())
}

/// The IAM actions one serialized request needs: `(action, resource name, index)`.
pub fn actions_of(target: &str, body: &Value) -> Vec<(String, String, Option<String>)> {
    let (service, operation) = target.split_once('.').unwrap_or(("", target));
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    if service.starts_with("DynamoDB") {
        match operation {
            "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    let (kind, inner) = item.as_object()?.iter().next()?;
                    let action = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        "ConditionCheck" => "ConditionCheckItem",
                        "Get" => "GetItem",
                        _ => return None,
                    };
                    Some((
                        format!("dynamodb:{action}"),
                        text(inner, "TableName")?,
                        None,
                    ))
                })
                .collect(),
            "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(table, _)| (format!("dynamodb:{operation}"), table.clone(), None))
                .collect(),
            _ => vec![(
                format!("dynamodb:{operation}"),
                text(body, "TableName").unwrap_or_else(|| "*".into()),
                text(body, "IndexName"),
            )],
        }
    } else if service == "AmazonSQS" {
        // SQS's batch operations need their single operation's permission and have none of
        // their own (Amazon SQS Developer Guide, "Amazon SQS batch actions").
        let operation = match operation {
            "SendMessageBatch" => "SendMessage",
            "DeleteMessageBatch" => "DeleteMessage",
            "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
            other => other,
        };
        vec![(
            format!("sqs:{operation}"),
            text(body, "QueueUrl").unwrap_or_else(|| "*".into()),
            None,
        )]
    } else if service == "TrentService" {
        // A Decrypt names no key: the ciphertext does. GOBI has one key.
        vec![(
            format!("kms:{operation}"),
            text(body, "KeyId").unwrap_or_else(|| "SecretsKey".into()),
            None,
        )]
    } else {
        vec![(format!("unknown:{target}"), "*".into(), None)]
    }
}

/// An S3 request (REST, path-style): the IAM action and the bucket. Object reads and heads
/// need `s3:GetObject`, object writes `s3:PutObject`, bucket heads `s3:ListBucket`.
pub fn s3_action(method: &str, uri: &str) -> Option<(String, String)> {
    let path = uri
        .split_once("://")
        .map_or(uri, |(_, rest)| rest.find('/').map_or("", |at| &rest[at..]));
    let path = path.split('?').next().unwrap_or_default();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let bucket = parts.next().filter(|b| !b.is_empty())?.to_owned();
    let has_key = parts.next().is_some_and(|k| !k.is_empty());
    let action = match (method, has_key) {
        ("GET" | "HEAD", true) => "s3:GetObject",
        ("PUT", true) => "s3:PutObject",
        ("DELETE", true) => "s3:DeleteObject",
        (_, false) => "s3:ListBucket",
        _ => "s3:Unknown",
    };
    Some((action.to_owned(), bucket))
}

/// A request's operation as `service:Operation` (S3's by its IAM action).
fn operation_name(target: &str, method: &str, uri: &str) -> String {
    match target.split_once('.') {
        Some((service, operation)) => {
            let service = match service {
                s if s.starts_with("DynamoDB") => "dynamodb",
                "AmazonSQS" => "sqs",
                "TrentService" => "kms",
                other => other,
            };
            format!("{service}:{operation}")
        }
        None => s3_action(method, uri)
            .map(|(action, _)| action)
            .unwrap_or_else(|| format!("unknown:{method}")),
    }
}

/// The encryption context's keys, sorted (empty for requests without one).
pub fn context_keys(body: &Value) -> Vec<String> {
    body["EncryptionContext"]
        .as_object()
        .map(|context| context.keys().cloned().collect())
        .unwrap_or_default()
}

fn append(requests: &[AwsRequest]) -> std::io::Result<()> {
    let Some(path) = std::env::var_os(LOG_VARIABLE) else {
        return Ok(());
    };
    let mut lines = String::new();
    for request in requests {
        lines.push_str(&serde_json::to_string(request).map_err(std::io::Error::other)?);
        lines.push('\n');
    }
    // One write per request, in append mode, so lines of parallel tests do not interleave.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(lines.as_bytes())
}

/// The SDK interceptor that records requests made inside [`as_function`].
#[derive(Debug, Default, Clone)]
pub struct RecordAwsRequests;

impl Intercept for RecordAwsRequests {
    fn name(&self) -> &'static str {
        "RecordAwsRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        count(operation_name(target, request.method(), request.uri()));
        let Ok(function) = FUNCTION.try_with(|f| *f) else {
            return Ok(());
        };
        if target.is_empty() {
            let recorded: Vec<AwsRequest> = s3_action(request.method(), request.uri())
                .into_iter()
                .map(|(action, bucket)| AwsRequest {
                    function: function.to_owned(),
                    action,
                    resource: logical(&bucket),
                    index: None,
                    context_keys: Vec::new(),
                })
                .collect();
            append(&recorded)?;
            return Ok(());
        }
        let body: Value = request
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        let recorded: Vec<AwsRequest> = actions_of(target, &body)
            .into_iter()
            .map(|(action, name, index)| AwsRequest {
                function: function.to_owned(),
                action,
                resource: logical(&name),
                index,
                context_keys: context_keys(&body),
            })
            .collect();
        append(&recorded)?;
        Ok(())
    }
}

/// A DynamoDB client that records its requests.
pub fn dynamodb(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(RecordAwsRequests)
            .build(),
    )
}

/// An SQS client that records its requests.
pub fn sqs(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(sdk)
            .interceptor(RecordAwsRequests)
            .build(),
    )
}

/// An S3 client that records its requests (path-style, as the local stack needs).
pub fn s3(sdk: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        gobi_domain::leads::files::s3_config(sdk, force_path_style)
            .interceptor(RecordAwsRequests)
            .build(),
    )
}

/// A KMS client that records its requests.
pub fn kms(sdk: &aws_config::SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(sdk)
            .interceptor(RecordAwsRequests)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn s3_requests_name_their_bucket_and_object_action() {
        assert_eq!(
            s3_action(
                "PUT",
                "http://127.0.0.1:5000/imports-b/imports/t/l/i.csv?x-id=PutObject"
            ),
            Some(("s3:PutObject".into(), "imports-b".into()))
        );
        assert_eq!(
            s3_action("HEAD", "http://127.0.0.1:5000/imports-b/reports/a.csv"),
            Some(("s3:GetObject".into(), "imports-b".into()))
        );
        assert_eq!(
            s3_action("HEAD", "http://127.0.0.1:5000/imports-b"),
            Some(("s3:ListBucket".into(), "imports-b".into()))
        );
    }

    #[test]
    fn a_transaction_needs_each_item_s_action() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "calls", "Item": {}}},
            {"ConditionCheck": {"TableName": "tenants", "Key": {}}},
        ]});
        assert_eq!(
            actions_of("DynamoDB_20120810.TransactWriteItems", &body),
            vec![
                ("dynamodb:PutItem".into(), "calls".into(), None),
                ("dynamodb:ConditionCheckItem".into(), "tenants".into(), None),
            ]
        );
    }

    #[test]
    fn queries_name_their_index_and_queues_their_url() {
        assert_eq!(
            actions_of(
                "DynamoDB_20120810.Query",
                &json!({"TableName": "agents", "IndexName": "gsi2"})
            ),
            vec![(
                "dynamodb:Query".into(),
                "agents".into(),
                Some("gsi2".into())
            )]
        );
        assert_eq!(
            actions_of("AmazonSQS.SendMessage", &json!({"QueueUrl": "http://q/1"})),
            vec![("sqs:SendMessage".into(), "http://q/1".into(), None)]
        );
        assert_eq!(
            actions_of(
                "AmazonSQS.SendMessageBatch",
                &json!({"QueueUrl": "http://q/1"})
            ),
            vec![("sqs:SendMessage".into(), "http://q/1".into(), None)],
            "a batch needs its single operation's permission"
        );
        assert_eq!(
            actions_of("TrentService.Decrypt", &json!({"CiphertextBlob": "x"})),
            vec![("kms:Decrypt".into(), "SecretsKey".into(), None)]
        );
    }
}
