//! Creates the template's tables, queue and key on the local emulators, idempotently.

use std::time::Duration;

use anyhow::Context;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::template::{TableDefinition, Template};

fn key_elements(schema: &[(String, String)]) -> anyhow::Result<Vec<KeySchemaElement>> {
    schema
        .iter()
        .map(|(name, kind)| {
            Ok(KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()?)
        })
        .collect()
}

/// Creates `name` as the template defines it, unless it exists; waits until it is active.
pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    def: &TableDefinition,
) -> anyhow::Result<()> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (attribute, kind) in &def.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    request = request.set_key_schema(Some(key_elements(&def.key_schema)?));
    for index in &def.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_elements(&index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection.as_str()))
                        .set_non_key_attributes(
                            (!index.non_key_attributes.is_empty())
                                .then(|| index.non_key_attributes.clone()),
                        )
                        .build(),
                )
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceInUseException") => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("creating table {name}"))),
    }
    for _ in 0..100 {
        let status = client
            .describe_table()
            .table_name(name)
            .send()
            .await?
            .table
            .and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(attribute) = &def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("enabling TTL on {name}"))?;
    }
    Ok(())
}

/// Every table the config names, by its logical id in the template.
pub async fn ensure_tables(
    client: &aws_sdk_dynamodb::Client,
    template: &Template,
    tables: &gobi_shared::config::Tables,
) -> anyhow::Result<()> {
    for (logical_id, name) in tables.by_logical_id() {
        ensure_table(client, name, &template.table(logical_id)?).await?;
    }
    Ok(())
}

/// A queue of the template (by logical id) and its dead-letter queue, as the template sets
/// them; returns the queue URL.
pub async fn ensure_queue(
    client: &aws_sdk_sqs::Client,
    template: &Template,
    logical_id: &str,
    name: &str,
) -> anyhow::Result<String> {
    let def = template.queue(logical_id)?;
    let mut attributes = Vec::new();
    if let Some((dlq_logical_id, max_receives)) = &def.redrive {
        let dlq_def = template.queue(dlq_logical_id)?;
        let mut dlq = client.create_queue().queue_name(format!("{name}-dlq"));
        if let Some(retention) = dlq_def.retention_seconds {
            dlq = dlq.attributes(
                QueueAttributeName::MessageRetentionPeriod,
                retention.to_string(),
            );
        }
        let dlq_url = dlq
            .send()
            .await
            .context("creating the dead-letter queue")?
            .queue_url
            .unwrap_or_default();
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .context("the dead-letter queue has no ARN")?;
        let policy =
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives});
        attributes.push((QueueAttributeName::RedrivePolicy, policy.to_string()));
    }
    if let Some(timeout) = def.visibility_timeout {
        attributes.push((QueueAttributeName::VisibilityTimeout, timeout.to_string()));
    }
    if let Some(retention) = def.retention_seconds {
        attributes.push((
            QueueAttributeName::MessageRetentionPeriod,
            retention.to_string(),
        ));
    }
    let mut request = client.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(key, value);
    }
    let url = request
        .send()
        .await
        .with_context(|| format!("creating the queue {logical_id}"))?
        .queue_url
        .unwrap_or_default();
    Ok(url)
}

/// The bucket `name` (created unless it exists).
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, name: &str) -> anyhow::Result<String> {
    if client.head_bucket().bucket(name).send().await.is_err() {
        client
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .context("creating the bucket")?;
    }
    Ok(name.to_owned())
}

/// A symmetric key behind `alias`; returns the alias, which KMS accepts as a key id.
pub async fn ensure_secrets_key(
    client: &aws_sdk_kms::Client,
    alias: &str,
) -> anyhow::Result<String> {
    let known = client.describe_key().key_id(alias).send().await;
    if known.is_ok() {
        return Ok(alias.to_owned());
    }
    let key = client
        .create_key()
        .description("GOBI local: n8n integration secrets")
        .send()
        .await
        .context("creating the KMS key")?;
    let key_id = key
        .key_metadata
        .map(|m| m.key_id)
        .context("KMS returned no key id")?;
    client
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
        .context("naming the KMS key")?;
    Ok(alias.to_owned())
}
