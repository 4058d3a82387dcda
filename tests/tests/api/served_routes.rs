//! The routers serve what the OpenAPI document says and nothing else. `api_routes!` serves each
//! handler at the path and methods of its `#[utoipa::path]` and builds the documentation only on
//! demand, so this is what keeps the two from drifting apart: every documented operation reaches
//! a handler (never the router's `ROUTE_NOT_FOUND` or a 405), and every other method on a
//! documented path is refused with 405.

use std::collections::{BTreeMap, BTreeSet};

use gobi_tests::spawn_app;
use http::{Method, StatusCode};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `/api/tenants/{id}/agents` → `/api/tenants/<a fresh uuid>/agents`.
fn filled(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                uuid::Uuid::new_v4().to_string()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
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
        let path = filled(template);
        for method in METHODS {
            let answer = app
                .call(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &path,
                    None,
                    None,
                )
                .await;
            if methods.contains(method) {
                operations += 1;
                if answer.status == StatusCode::METHOD_NOT_ALLOWED
                    || answer.code() == "ROUTE_NOT_FOUND"
                {
                    unserved.push(format!("{method} {template} → {}", answer.status));
                }
            } else if answer.status != StatusCode::METHOD_NOT_ALLOWED {
                extra.push(format!("{method} {template} → {}", answer.status));
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
