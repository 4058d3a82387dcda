//! Reads `template.yaml`: table definitions for the local stack, queue settings, and each
//! function's HTTP routes for the router-versus-template check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use serde_yaml::Value;

/// The template at the workspace root.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

pub struct Template {
    resources: serde_yaml::Mapping,
}

/// What DynamoDB needs to create a table like the template's.
#[derive(Debug, Clone)]
pub struct TableDefinition {
    pub attributes: Vec<(String, String)>,
    pub key_schema: Vec<(String, String)>,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone)]
pub struct IndexDefinition {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection: String,
    /// For an `INCLUDE` projection.
    pub non_key_attributes: Vec<String>,
}

/// A queue's settings.
#[derive(Debug, Clone, Default)]
pub struct QueueDefinition {
    pub visibility_timeout: Option<u64>,
    pub retention_seconds: Option<u64>,
    /// `(logical id of the dead-letter queue, maxReceiveCount)`.
    pub redrive: Option<(String, u64)>,
}

fn str_of<'a>(value: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("missing string `{key}`"))
}

fn key_schema(value: Option<&Value>) -> anyhow::Result<Vec<(String, String)>> {
    value
        .and_then(Value::as_sequence)
        .ok_or_else(|| anyhow!("missing KeySchema"))?
        .iter()
        .map(|k| {
            Ok((
                str_of(k, "AttributeName")?.to_owned(),
                str_of(k, "KeyType")?.to_owned(),
            ))
        })
        .collect()
}

/// `!GetAtt Name.Arn` (tagged scalar or sequence) or `{Fn::GetAtt: [...]}` → `Name`.
fn get_att_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => match &tagged.value {
            Value::String(s) => s.split('.').next().map(str::to_owned),
            Value::Sequence(parts) => parts.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        },
        Value::Mapping(m) => m
            .get("Fn::GetAtt")
            .and_then(Value::as_sequence)
            .and_then(|p| p.first())
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

impl Template {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let document: Value = serde_yaml::from_str(text).context("template.yaml is not YAML")?;
        let resources = document
            .get("Resources")
            .and_then(Value::as_mapping)
            .cloned()
            .ok_or_else(|| anyhow!("template.yaml has no Resources"))?;
        Ok(Self { resources })
    }

    fn resource(&self, logical_id: &str, kind: &str) -> anyhow::Result<&Value> {
        let resource = self
            .resources
            .get(logical_id)
            .ok_or_else(|| anyhow!("template.yaml has no resource {logical_id}"))?;
        let actual = str_of(resource, "Type")?;
        anyhow::ensure!(actual == kind, "{logical_id} is a {actual}, not a {kind}");
        resource
            .get("Properties")
            .ok_or_else(|| anyhow!("{logical_id} has no Properties"))
    }

    pub fn table(&self, logical_id: &str) -> anyhow::Result<TableDefinition> {
        let p = self.resource(logical_id, "AWS::DynamoDB::Table")?;
        let attributes = p
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| anyhow!("{logical_id}: missing AttributeDefinitions"))?
            .iter()
            .map(|a| {
                Ok((
                    str_of(a, "AttributeName")?.to_owned(),
                    str_of(a, "AttributeType")?.to_owned(),
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        let indexes = p
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
            .map(|seq| {
                seq.iter()
                    .map(|i| {
                        Ok(IndexDefinition {
                            name: str_of(i, "IndexName")?.to_owned(),
                            key_schema: key_schema(i.get("KeySchema"))?,
                            projection: i
                                .get("Projection")
                                .and_then(|p| p.get("ProjectionType"))
                                .and_then(Value::as_str)
                                .unwrap_or("ALL")
                                .to_owned(),
                            non_key_attributes: i
                                .get("Projection")
                                .and_then(|p| p.get("NonKeyAttributes"))
                                .and_then(Value::as_sequence)
                                .map(|names| {
                                    names
                                        .iter()
                                        .filter_map(Value::as_str)
                                        .map(str::to_owned)
                                        .collect()
                                })
                                .unwrap_or_default(),
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let ttl_attribute = p
            .get("TimeToLiveSpecification")
            .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
            .and_then(|t| t.get("AttributeName"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(TableDefinition {
            attributes,
            key_schema: key_schema(p.get("KeySchema"))?,
            indexes,
            ttl_attribute,
        })
    }

    pub fn queue(&self, logical_id: &str) -> anyhow::Result<QueueDefinition> {
        let p = self.resource(logical_id, "AWS::SQS::Queue")?;
        let number = |key: &str| p.get(key).and_then(Value::as_u64);
        let redrive = match p.get("RedrivePolicy") {
            None => None,
            Some(r) => Some((
                r.get("deadLetterTargetArn")
                    .and_then(get_att_target)
                    .ok_or_else(|| anyhow!("{logical_id}: deadLetterTargetArn is not a GetAtt"))?,
                r.get("maxReceiveCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(5),
            )),
        };
        Ok(QueueDefinition {
            visibility_timeout: number("VisibilityTimeout"),
            retention_seconds: number("MessageRetentionPeriod"),
            redrive,
        })
    }

    /// Binaries of the functions served on a Lambda Function URL (not through the HTTP API).
    pub fn function_url_binaries(&self) -> Vec<String> {
        self.resources
            .iter()
            .filter(|(_, r)| {
                r.get("Properties")
                    .and_then(|p| p.get("FunctionUrlConfig"))
                    .is_some()
            })
            .filter_map(|(_, r)| binary_of(r).map(str::to_owned))
            .collect()
    }

    /// `(logical id, binary)` of every function.
    pub fn function_binaries(&self) -> Vec<(String, String)> {
        self.resources
            .iter()
            .filter(|(_, r)| {
                r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Function")
            })
            .filter_map(|(name, r)| {
                let binary = binary_of(r)?;
                Some((name.as_str()?.to_owned(), binary.to_owned()))
            })
            .collect()
    }

    /// The environment variables `binary`'s function sets to literal values in its own
    /// `Environment` (references to parameters and resources left out): what a local run of
    /// that binary needs to run as it deploys, such as the allocator's settings.
    pub fn literal_environment(&self, binary: &str) -> Vec<(String, String)> {
        let function = self
            .resources
            .iter()
            .find(|(_, r)| binary_of(r) == Some(binary));
        function
            .and_then(|(_, r)| r.get("Properties"))
            .and_then(|p| p.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
            .map(|variables| {
                variables
                    .iter()
                    .filter_map(|(k, v)| match v {
                        // Plain strings only: a tagged value (`!Ref`, `!GetAtt`, …) names
                        // something the deploy resolves, not a literal.
                        Value::String(literal) => Some((k.as_str()?.to_owned(), literal.clone())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `binary name → [(METHOD, path)]` for every function built by cargo-lambda.
    pub fn http_routes(&self) -> anyhow::Result<BTreeMap<String, Vec<(String, String)>>> {
        let mut routes = BTreeMap::new();
        for (_, resource) in &self.resources {
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let Some(binary) = binary_of(resource) else {
                continue;
            };
            let mut list = Vec::new();
            if let Some(events) = resource
                .get("Properties")
                .and_then(|p| p.get("Events"))
                .and_then(Value::as_mapping)
            {
                for (_, event) in events {
                    if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                        continue;
                    }
                    let p = event
                        .get("Properties")
                        .ok_or_else(|| anyhow!("HttpApi event without Properties"))?;
                    list.push((
                        str_of(p, "Method")?.to_ascii_uppercase(),
                        str_of(p, "Path")?.to_owned(),
                    ));
                }
            }
            list.sort();
            routes.insert(binary.to_owned(), list);
        }
        Ok(routes)
    }
}

/// The binary a function resource is built from (`Metadata.BuildProperties.Binary`).
fn binary_of(resource: &Value) -> Option<&str> {
    resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sam_build_has_a_makefile_target_packaging_each_function_s_binary() {
        let template = Template::load(&default_path()).unwrap();
        let makefile =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Makefile"))
                .unwrap();
        let functions = template.function_binaries();
        assert_eq!(functions.len(), 18, "{functions:?}");
        for (logical_id, binary) in functions {
            let target = format!("build-{logical_id}:\n\t@infra/lambda-package.sh {binary}\n");
            assert!(makefile.contains(&target), "the Makefile lacks {target:?}");
        }
    }

    #[test]
    fn a_function_s_literal_environment_leaves_references_out() {
        let template = Template::load(&default_path()).unwrap();
        assert_eq!(
            template.literal_environment("gobi-auth"),
            [("MALLOC_MMAP_THRESHOLD_".to_owned(), "131072".to_owned())]
        );
        assert!(template.literal_environment("gobi-no-such").is_empty());
    }

    #[test]
    fn the_tenants_table_is_read_from_the_template() {
        let template = Template::load(&default_path()).unwrap();
        let table = template.table("TenantsTable").unwrap();
        assert!(table.key_schema.contains(&("pk".into(), "HASH".into())));
        assert_eq!(table.indexes[0].name, "gsi1");
        assert_eq!(table.ttl_attribute.as_deref(), Some("expiresAt"));
    }

    #[test]
    fn the_online_index_projects_the_heartbeat() {
        let template = Template::load(&default_path()).unwrap();
        let table = template.table("AgentsTable").unwrap();
        let online = table.indexes.iter().find(|i| i.name == "gsi2").unwrap();
        assert_eq!(online.projection, "INCLUDE");
        assert_eq!(
            online.non_key_attributes,
            vec!["last_heartbeat_at".to_owned()]
        );
    }

    #[test]
    fn the_handoff_queue_has_a_dead_letter_queue() {
        let template = Template::load(&default_path()).unwrap();
        let queue = template.queue("HandoffQueue").unwrap();
        assert_eq!(queue.redrive, Some(("HandoffDeadLetterQueue".into(), 5)));
        assert!(queue.visibility_timeout.unwrap() >= 6 * 30);
    }
}
