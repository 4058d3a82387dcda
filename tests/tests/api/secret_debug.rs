//! A `Debug` of a request body or of the configuration never shows a secret: each secret-bearing
//! request is parsed from JSON as the router would, and the configuration from an environment that
//! sets every secret, then formatted with `{:?}` and `{:#?}` and searched for the secret.

use std::collections::HashMap;

use gobi_auth::model::{BootstrapUser, Login, RegisterFirstAdmin, TokenGrant};
use gobi_automation::model::{LinkEndpoint, TestIntegration};
use gobi_shared::config::Config;
use serde::de::DeserializeOwned;
use serde_json::json;

const SECRET: &str = "hunter2-very-secret-value";

fn parsed<T: DeserializeOwned>(body: serde_json::Value) -> T {
    serde_json::from_value(body).expect("a valid body")
}

fn assert_hidden(what: &str, debug: String, pretty: String) {
    for shown in [debug, pretty] {
        assert!(
            !shown.contains(SECRET) && !shown.contains("hunter2"),
            "{what} shows its secret: {shown}"
        );
        assert!(!shown.is_empty(), "{what} printed nothing");
    }
}

macro_rules! check {
    ($what:expr, $value:expr) => {{
        let value = $value;
        assert_hidden($what, format!("{value:?}"), format!("{value:#?}"));
    }};
}

#[test]
fn request_bodies_never_show_a_password_or_secret() {
    let tenant = "0190f000-0000-7000-8000-000000000001";
    check!(
        "RegisterFirstAdmin",
        parsed::<RegisterFirstAdmin>(json!({
            "email": "a@example.com", "password": SECRET, "tenant_name": "Acme",
            "tenant_domain": "acme.example"
        }))
    );
    check!(
        "Login",
        parsed::<Login>(json!({ "email": "a@example.com", "password": SECRET }))
    );
    check!(
        "BootstrapUser",
        parsed::<BootstrapUser>(json!({
            "email": "a@example.com", "password": SECRET,
            "memberships": [{ "tenant_id": tenant, "role": "client_viewer" }]
        }))
    );
    check!(
        "TestIntegration",
        parsed::<TestIntegration>(json!({
            "tenant_id": tenant, "base_url": "https://n8n.example", "auth_type": "bearer",
            "secret": SECRET
        }))
    );
    check!(
        "LinkEndpoint",
        parsed::<LinkEndpoint>(json!({
            "integration_id": tenant, "webhook_path": "/webhook/x",
            "headers_template": { "X-Api-Key": SECRET }
        }))
    );
}

#[test]
fn a_token_grant_never_shows_its_token() {
    let grant: TokenGrant = TokenGrant {
        token: SECRET.to_owned(),
        token_type: "Bearer",
        expires_in: 3600,
        user: None,
        tenant_id: None,
        role: gobi_auth::model::MembershipRole::ClientViewer,
        acct: None,
        memberships: Vec::new(),
    };
    check!("TokenGrant", grant);
}

#[test]
fn the_configuration_never_shows_a_secret() {
    let secret_vars = [
        "JWT_SECRET",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_MEDIA_STREAM_TOKEN",
        "LIVEKIT_API_SECRET",
        "LIVEKIT_SIP_AUTH_PASSWORD",
        "DEV_BOOTSTRAP_KEY",
        "AUTH_BOOTSTRAP_KEY",
    ];
    let mut vars: HashMap<String, String> = secret_vars
        .iter()
        .map(|name| (name.to_string(), SECRET.to_owned()))
        .collect();
    vars.insert("LIVEKIT_SIP_AUTH_USERNAME".into(), "gobi-trunk".into());
    vars.insert("LIVEKIT_API_KEY".into(), "APIkey".into());
    vars.insert("LIVEKIT_URL".into(), "https://livekit.example".into());
    vars.insert("TWILIO_ACCOUNT_SID".into(), "AC00".into());
    let config = Config::from_map(&vars).expect("a valid configuration");
    check!("Config", config);
}
