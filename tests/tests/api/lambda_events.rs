//! API Gateway HTTP API (v2) events fed through `lambda_http`'s adapter, the same path
//! `lambda_http::run` takes inside Lambda, into the tenants router.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gobi_tests::{read_fixture, spawn_app, tokens};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::{Value, json};

async fn invoke(router: axum::Router, event: &str) -> Value {
    let payload: LambdaRequest =
        serde_json::from_str(event).expect("fixture is an API Gateway v2 event");
    let mut adapter = Adapter::from(router);
    let response = adapter
        .call(LambdaEvent::new(payload, Context::default()))
        .await
        .expect("handled");
    serde_json::to_value(response).expect("response serialises")
}

fn body_of(response: &Value) -> Value {
    let body = response["body"].as_str().unwrap_or_default();
    let bytes = if response["isBase64Encoded"] == true {
        STANDARD.decode(body).unwrap()
    } else {
        body.as_bytes().to_vec()
    };
    serde_json::from_slice(&bytes).expect("JSON body")
}

#[tokio::test]
async fn an_api_gateway_v2_event_creates_and_lists_tenants() {
    let app = spawn_app().await;
    let body =
        json!({"name": "Lambda Corp", "domain": "lambda.example", "maxUsers": 12}).to_string();
    let token = tokens::admin();
    let create = read_fixture("apigw-v2-create-tenant.json")
        .replace("{{TOKEN}}", &token)
        .replace("{{LENGTH}}", &body.len().to_string())
        .replace("{{BODY}}", &STANDARD.encode(&body));

    let created = invoke(app.router.clone(), &create).await;
    assert_eq!(created["statusCode"], 201, "{created}");
    let tenant = body_of(&created)["data"].clone();
    assert_eq!(tenant["domain"], "lambda.example");
    assert_eq!(tenant["maxUsers"], 12);
    let headers = created["headers"].as_object().unwrap();
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(headers["x-content-type-options"], "nosniff");

    let list = read_fixture("apigw-v2-list-tenants.json").replace("{{TOKEN}}", &token);
    let listed = invoke(app.router.clone(), &list).await;
    assert_eq!(listed["statusCode"], 200, "{listed}");
    let page = body_of(&listed);
    assert_eq!(page["data"][0]["id"], tenant["id"]);
    assert_eq!(page["pagination"]["limit"], 5);

    let anonymous = invoke(
        app.router.clone(),
        &list.replace(&format!("Bearer {token}"), ""),
    )
    .await;
    assert_eq!(anonymous["statusCode"], 401);
    assert_eq!(body_of(&anonymous)["error"]["code"], "MISSING_TOKEN");
}
