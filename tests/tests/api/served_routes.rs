//! The routers serve what the OpenAPI document says and nothing else. `api_routes!` serves each
//! handler at the path and methods of its `#[utoipa::path]` and builds the documentation only on
//! demand, so this is what keeps the two from drifting apart: every documented operation reaches
//! a handler (never the router's `ROUTE_NOT_FOUND` or a 405), and every other method on a
//! documented path is refused with 405.

use std::collections::{BTreeMap, BTreeSet};

use gobi_tests::{TestApp, spawn_app};
use http::{Method, StatusCode};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A route template with its parameters filled: `{proxy+}` (API Gateway's greedy parameter) with
/// a Swagger UI file, `{toolName}` with a tool name, every other `{..}` with a UUID.
fn filled(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{proxy+}" => "index.css".to_owned(),
            "{toolName}" => "lookup_order".to_owned(),
            s if s.starts_with('{') && s.ends_with('}') => {
                "01a1fc93-807b-7088-a0c6-a03eba7b4719".to_owned()
            }
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends `method` on `template` (filled), with no token or body: `Ok` with the status when a
/// handler answered, `Err` with it when the router did (`ROUTE_NOT_FOUND`, or 405 for a method
/// the path does not serve).
pub(crate) async fn handler_answer(
    app: &TestApp,
    method: &str,
    template: &str,
) -> Result<StatusCode, StatusCode> {
    let answer = app
        .call(
            Method::from_bytes(method.as_bytes()).unwrap(),
            &filled(template),
            None,
            None,
        )
        .await;
    if answer.status == StatusCode::METHOD_NOT_ALLOWED || answer.code() == "ROUTE_NOT_FOUND" {
        Err(answer.status)
    } else {
        Ok(answer.status)
    }
}

#[tokio::test]
async fn every_documented_operation_is_served_and_no_undocumented_method_is() {
    let app = spawn_app().await;
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (method, path) in gobi_shared::openapi::routes(&gobi_infra::openapi::document()) {
        documented.entry(path).or_default().insert(method);
    }
    assert!(
        documented.len() > 50,
        "the whole document: {} paths",
        documented.len()
    );

    let mut unserved = Vec::new();
    let mut extra = Vec::new();
    let mut operations = 0;
    for (template, methods) in &documented {
        for method in METHODS {
            let answer = handler_answer(&app, method, template).await;
            if methods.contains(method) {
                operations += 1;
                if let Err(status) = answer {
                    unserved.push(format!("{method} {template} → {status}"));
                }
            } else if answer != Err(StatusCode::METHOD_NOT_ALLOWED) {
                extra.push(format!("{method} {template} → {answer:?}"));
            }
        }
    }
    assert!(operations > 80, "{operations} operations sent");
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:#?}"
    );
    assert!(extra.is_empty(), "served but not documented: {extra:#?}");
}
