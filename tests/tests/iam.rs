//! Least privilege, checked against what the code really asks of AWS: every request a function
//! made while the suite ran (recorded by `gobi_infra::aws_requests` into the file
//! `GOBI_AWS_REQUEST_LOG` names) must be allowed by that function's policy in `template.yaml`,
//! and statements no request needed are reported.
//!
//! `make test` runs the suite with the log switched on, then this target on its own
//! (`cargo test -p gobi-tests --test iam`), which is why `Cargo.toml` keeps it out of a plain
//! `cargo test`.

use std::collections::{BTreeMap, BTreeSet};

use gobi_infra::aws_requests::{AwsRequest, LOG_VARIABLE};
use gobi_infra::template;
use serde_yaml::Value;

/// One resource a statement names: a logical id, and for `${X.Arn}/index/NAME` the index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Resource {
    logical_id: String,
    index: Option<String>,
}

#[derive(Debug, Clone)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<Resource>,
    /// `ForAllValues:StringEquals` on `kms:EncryptionContextKeys`: the keys a context may have.
    context_keys: Option<Vec<String>>,
}

/// The one condition GOBI's function policies use; any other fails the check until it is taught.
fn context_keys_condition(name: &Value, condition: &Value) -> Option<Vec<String>> {
    if condition.is_null() {
        return None;
    }
    let keys = &condition["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"];
    assert!(
        keys.is_sequence() && condition.as_mapping().is_some_and(|m| m.len() == 1),
        "{name:?}: a condition this check does not understand: {condition:?}"
    );
    Some(strings(keys))
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// `!GetAtt X.Arn`, `!Sub "${X.Arn}/index/NAME"`, `!Ref X` or `"*"`.
fn resource(value: &Value) -> Option<Resource> {
    match value {
        Value::Tagged(tagged) => {
            let text = tagged.value.as_str()?;
            match tagged.tag.to_string().trim_start_matches('!') {
                "GetAtt" | "Ref" => Some(Resource {
                    logical_id: text.split('.').next()?.to_owned(),
                    index: None,
                }),
                "Sub" => {
                    let inner = text.strip_prefix("${")?;
                    let (attribute, rest) = inner.split_once('}')?;
                    Some(Resource {
                        logical_id: attribute.split('.').next()?.to_owned(),
                        index: rest.strip_prefix("/index/").map(str::to_owned),
                    })
                }
                _ => None,
            }
        }
        Value::String(star) if star == "*" => Some(Resource {
            logical_id: "*".into(),
            index: None,
        }),
        _ => None,
    }
}

/// Every function's Allow statements, by logical id.
fn policies() -> BTreeMap<String, Vec<Statement>> {
    let text = std::fs::read_to_string(template::default_path()).expect("template.yaml");
    let document: Value = serde_yaml::from_str(&text).expect("YAML");
    let resources = document["Resources"].as_mapping().expect("Resources");
    let mut out = BTreeMap::new();
    for (name, definition) in resources {
        if definition["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let mut statements = Vec::new();
        for policy in definition["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let listed = policy["Statement"].as_sequence();
            assert!(
                listed.is_some(),
                "{name:?}: only inline Statement policies are checked, found {policy:?}"
            );
            for statement in listed.into_iter().flatten() {
                if statement["Effect"].as_str() != Some("Allow") {
                    continue;
                }
                let resources = match &statement["Resource"] {
                    Value::Sequence(items) => items.iter().filter_map(resource).collect(),
                    single => resource(single).into_iter().collect(),
                };
                statements.push(Statement {
                    actions: strings(&statement["Action"]),
                    resources,
                    context_keys: context_keys_condition(name, &statement["Condition"]),
                });
            }
        }
        out.insert(name.as_str().expect("a name").to_owned(), statements);
    }
    out
}

fn action_matches(granted: &str, wanted: &str) -> bool {
    match granted.strip_suffix('*') {
        Some(prefix) => wanted.starts_with(prefix),
        None => granted == wanted,
    }
}

fn resource_matches(granted: &Resource, request: &AwsRequest) -> bool {
    if granted.logical_id == "*" {
        return true;
    }
    granted.logical_id == request.resource
        && match (&granted.index, &request.index) {
            (None, None) => true,
            (Some(granted), Some(index)) => granted == "*" || granted == index,
            _ => false,
        }
}

fn recorded() -> Vec<AwsRequest> {
    let path = std::env::var(LOG_VARIABLE).unwrap_or_else(|_| {
        panic!("{LOG_VARIABLE} is not set: `make test` records the suite's AWS requests and runs this check")
    });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run the suite first: `make test`)"));
    let mut requests: Vec<AwsRequest> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a recorded request"))
        .collect();
    requests.sort();
    requests.dedup();
    requests
}

#[test]
fn every_aws_request_of_a_function_is_allowed_by_its_policy() {
    let policies = policies();
    let requests = recorded();
    let mut denied = BTreeSet::new();
    let mut used: BTreeSet<(String, usize, String, Resource)> = BTreeSet::new();
    for request in &requests {
        let statements = policies
            .get(&request.function)
            .unwrap_or_else(|| panic!("{} is not a function of template.yaml", request.function));
        let mut allowed = false;
        for (at, statement) in statements.iter().enumerate() {
            let action = statement
                .actions
                .iter()
                .find(|granted| action_matches(granted, &request.action));
            let resource = statement
                .resources
                .iter()
                .find(|granted| resource_matches(granted, request));
            let condition_holds = statement
                .context_keys
                .as_ref()
                .is_none_or(|allowed| request.context_keys.iter().all(|key| allowed.contains(key)));
            if let (Some(action), Some(resource), true) = (action, resource, condition_holds) {
                allowed = true;
                used.insert((
                    request.function.clone(),
                    at,
                    action.clone(),
                    resource.clone(),
                ));
            }
        }
        if !allowed {
            denied.insert(format!(
                "{}: {} on {}{}{}",
                request.function,
                request.action,
                request.resource,
                request
                    .index
                    .as_ref()
                    .map(|i| format!(" (index {i})"))
                    .unwrap_or_default(),
                if request.context_keys.is_empty() {
                    String::new()
                } else {
                    format!(" (encryption context {:?})", request.context_keys)
                }
            ));
        }
    }

    // What the policies grant that nothing asked for: reported, not failed (a path the suite does
    // not reach may need it).
    let mut unneeded = Vec::new();
    for (function, statements) in &policies {
        for (at, statement) in statements.iter().enumerate() {
            for action in &statement.actions {
                for resource in &statement.resources {
                    let key = (function.clone(), at, action.clone(), resource.clone());
                    if !used.contains(&key) {
                        unneeded.push(format!(
                            "{function}: {action} on {}{}",
                            resource.logical_id,
                            resource
                                .index
                                .as_ref()
                                .map(|i| format!("/index/{i}"))
                                .unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    let functions: BTreeSet<&str> = requests.iter().map(|r| r.function.as_str()).collect();
    println!(
        "{} distinct requests by {} functions checked against template.yaml",
        requests.len(),
        functions.len()
    );
    for function in policies.keys() {
        if !functions.contains(function.as_str()) {
            println!("no request recorded for {function}");
        }
    }
    println!("granted but not needed by any request of the suite:");
    for line in &unneeded {
        println!("  {line}");
    }
    assert!(
        !requests.is_empty(),
        "no request was recorded: is {LOG_VARIABLE} set for the suite?"
    );
    assert!(
        denied.is_empty(),
        "requests the template's policies would deny in AWS:\n  {}",
        denied.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}
