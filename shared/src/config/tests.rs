//! The configuration's parsing and its refusals.

use super::*;

#[test]
fn webhook_schedules_read_durations() {
    let c = config(&[]).unwrap();
    assert_eq!(
        c.webhook_retry_schedule,
        vec![5, 60, 300, 1800, 3600, 7200, 14_400, 28_800, 28_800]
    );
    // About a day of retries in all.
    assert_eq!(c.webhook_retry_schedule.iter().sum::<u64>(), 84_965);
    assert_eq!(c.webhook_disable_after_seconds, 3 * 86_400);
    let c = config(&[
        ("WEBHOOK_RETRY_SCHEDULE", "1s, 2s"),
        ("WEBHOOK_DISABLE_AFTER", "30"),
    ])
    .unwrap();
    assert_eq!(
        (c.webhook_retry_schedule, c.webhook_disable_after_seconds),
        (vec![1, 2], 30)
    );
    assert!(config(&[("WEBHOOK_RETRY_SCHEDULE", "soon")]).is_err());
    assert_eq!(seconds_of("90"), Some(90));
    assert_eq!(seconds_of("2h"), Some(7200));
    assert_eq!(seconds_of("1d"), Some(86_400));
    assert_eq!(seconds_of("5w"), None);
    assert_eq!(seconds_of("h"), None);
}

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_map(&map)
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let c = config(&[]).unwrap();
    assert_eq!(c.port, 3000);
    assert_eq!(c.environment, Environment::Development);
    assert_eq!(c.tables.tenants, "gobi-tenants");
    assert_eq!(c.twilio.api_base_url.as_str(), "https://api.twilio.com/");
    assert!(c.cors_origins.is_empty());
}

#[test]
fn values_are_read_and_parsed() {
    let c = config(&[
        ("PORT", "4000"),
        ("NODE_ENV", "production"),
        ("CORS_ORIGIN", "https://a.example, https://b.example"),
        ("JWT_SECRET", "s3cret"),
        (
            "JWT_PUBLIC_KEY",
            "-----BEGIN PUBLIC KEY-----\\nAAA\\n-----END PUBLIC KEY-----",
        ),
        ("TABLE_PREFIX", "t1"),
        ("JWT_ISSUER", "gobi"),
        ("JWT_AUDIENCE", "gobi-api"),
    ])
    .unwrap();
    assert_eq!(c.port, 4000);
    assert!(c.environment.is_production());
    assert_eq!(
        c.cors_origins,
        vec!["https://a.example", "https://b.example"]
    );
    assert_eq!(c.jwt.secret.unwrap().expose_secret(), "s3cret");
    assert!(c.jwt.public_key.unwrap().contains("\nAAA\n"));
    assert_eq!(c.tables.tenants, "t1-tenants");
}

#[test]
fn production_refuses_unsigned_webhooks_and_unchecked_issuers() {
    let production = [
        ("NODE_ENV", "production"),
        ("JWT_ISSUER", "gobi"),
        ("JWT_AUDIENCE", "gobi-api"),
    ];
    assert!(
        config(&production).unwrap().twilio.validate_signature,
        "on by default"
    );
    let mut unsigned = production.to_vec();
    unsigned.push(("TWILIO_VALIDATE_SIGNATURE", "false"));
    assert_eq!(
        config(&unsigned).unwrap_err().name,
        "TWILIO_VALIDATE_SIGNATURE"
    );
    assert_eq!(
        config(&[("NODE_ENV", "production"), ("JWT_AUDIENCE", "a")])
            .unwrap_err()
            .name,
        "JWT_ISSUER"
    );
    assert_eq!(
        config(&[("NODE_ENV", "production"), ("JWT_ISSUER", "i")])
            .unwrap_err()
            .name,
        "JWT_AUDIENCE"
    );
    // Outside production it may be switched off, for local smoke tests.
    assert!(
        !config(&[("TWILIO_VALIDATE_SIGNATURE", "false")])
            .unwrap()
            .twilio
            .validate_signature
    );
}

#[test]
fn sip_credentials_come_in_pairs_and_are_long_enough() {
    assert_eq!(
        config(&[("LIVEKIT_SIP_AUTH_USERNAME", "gobi")])
            .unwrap_err()
            .name,
        "LIVEKIT_SIP_AUTH_USERNAME"
    );
    assert_eq!(
        config(&[
            ("LIVEKIT_SIP_AUTH_USERNAME", "gobi"),
            ("LIVEKIT_SIP_AUTH_PASSWORD", "short")
        ])
        .unwrap_err()
        .name,
        "LIVEKIT_SIP_AUTH_PASSWORD"
    );
    let c = config(&[(
        "LIVEKIT_SIP_ALLOWED_ADDRESSES",
        "54.172.60.0/30, 54.244.51.0/30",
    )])
    .unwrap();
    assert!(c.livekit.sip_secured());
    assert_eq!(c.livekit.sip_allowed_addresses.len(), 2);
}

#[test]
fn bad_values_are_refused_with_their_name() {
    assert_eq!(config(&[("PORT", "eighty")]).unwrap_err().name, "PORT");
    assert_eq!(
        config(&[("NODE_ENV", "moon")]).unwrap_err().name,
        "NODE_ENV"
    );
    assert_eq!(
        config(&[("LIVEKIT_URL", "not a url")]).unwrap_err().name,
        "LIVEKIT_URL"
    );
}
