//! `template.yaml` and the routers agree: every route a router serves is an API Gateway route
//! of its function, and every template route reaches a handler of that function.

use std::collections::BTreeSet;

use gobi_infra::template::{Template, default_path};
use gobi_tests::spawn_app;

use super::served_routes::handler_answer;

fn documented(document: &utoipa::openapi::OpenApi) -> BTreeSet<(String, String)> {
    gobi_shared::openapi::routes(document).into_iter().collect()
}

fn expected_by_function() -> Vec<(&'static str, BTreeSet<(String, String)>)> {
    let mut system = documented(&gobi_system::openapi());
    system.extend(
        gobi_system::DOCUMENTATION_ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string())),
    );
    vec![
        ("gobi-system", system),
        ("gobi-auth", documented(&gobi_auth::openapi())),
        (
            "gobi-phone-numbers",
            documented(&gobi_phone_numbers::openapi()),
        ),
        ("gobi-agents", documented(&gobi_agents::openapi())),
        ("gobi-automation", documented(&gobi_automation::openapi())),
        ("gobi-client", documented(&gobi_client::openapi())),
        ("gobi-lead-lists", documented(&gobi_lead_lists::openapi())),
        ("gobi-campaigns", documented(&gobi_campaigns::openapi())),
        ("gobi-runtime", documented(&gobi_runtime::openapi())),
        // Triggered by EventBridge, SQS, or served on a Function URL: no HTTP API routes.
        ("gobi-scheduler", BTreeSet::new()),
        ("gobi-handoff-worker", BTreeSet::new()),
        ("gobi-legal-hold-worker", BTreeSet::new()),
        ("gobi-lead-import", BTreeSet::new()),
        ("gobi-dialer", BTreeSet::new()),
        ("gobi-twilio-webhook", BTreeSet::new()),
        ("gobi-tenants", documented(&gobi_tenants::openapi())),
        ("gobi-webhooks", documented(&gobi_webhooks::openapi())),
        ("gobi-webhook-worker", BTreeSet::new()),
    ]
}

#[test]
fn every_router_route_is_in_the_template_and_back() {
    let template = Template::load(&default_path()).unwrap();
    let in_template = template.http_routes().unwrap();
    let expected = expected_by_function();
    for (binary, routes) in &expected {
        let declared: BTreeSet<(String, String)> = in_template
            .get(*binary)
            .unwrap_or_else(|| panic!("{binary} is not in template.yaml"))
            .iter()
            .cloned()
            .collect();
        let missing: Vec<_> = routes.difference(&declared).collect();
        let extra: Vec<_> = declared.difference(routes).collect();
        assert!(
            missing.is_empty(),
            "{binary}: routes served but missing from template.yaml: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "{binary}: template.yaml routes the function does not serve: {extra:?}"
        );
    }
    let known: BTreeSet<&str> = expected.iter().map(|(b, _)| *b).collect();
    for binary in in_template.keys() {
        assert!(
            known.contains(binary.as_str()),
            "{binary} has routes in template.yaml but no check here"
        );
    }
}

#[tokio::test]
async fn every_template_route_reaches_a_handler() {
    let app = spawn_app().await;
    let template = Template::load(&default_path()).unwrap();
    for (binary, routes) in template.http_routes().unwrap() {
        for (method, path) in routes {
            let answer = handler_answer(&app, &method, &path).await;
            assert!(
                answer.is_ok(),
                "{binary}: {method} {path} has no handler ({answer:?})"
            );
        }
    }
}

#[test]
fn the_twilio_webhook_is_served_on_a_function_url() {
    let template = Template::load(&default_path()).unwrap();
    assert_eq!(
        template.function_url_binaries(),
        vec!["gobi-twilio-webhook".to_owned()]
    );
    let routes = documented(&gobi_twilio_webhook::openapi());
    let expected: BTreeSet<(String, String)> = [
        ("POST", gobi_twilio_webhook::INBOUND_PATH),
        ("POST", gobi_twilio_webhook::STATUS_PATH),
        ("POST", gobi_twilio_webhook::OUTBOUND_PATH),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes, expected);
}
