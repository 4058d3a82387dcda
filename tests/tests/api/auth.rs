//! The JWT cases of the first seed, with tokens minted here with both key types and both
//! claim vocabularies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gobi_tests::{PublicKeyForm, TestAppOptions, spawn_app, spawn_app_with, tokens};
use http::{Method, StatusCode};
use serde_json::json;

const PATH: &str = "/api/tenants";

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn valid_tokens_of_both_algorithms_and_key_forms_are_accepted() {
    for form in [PublicKeyForm::Certificate, PublicKeyForm::PublicKey] {
        let app = spawn_app_with(TestAppOptions {
            public_key: form,
            ..Default::default()
        })
        .await;
        assert_eq!(
            app.get(PATH, &tokens::admin()).await.status,
            StatusCode::OK,
            "RS256 with {form:?}"
        );
        assert_eq!(
            app.get(PATH, &tokens::internal_platform("internal_admin"))
                .await
                .status,
            StatusCode::OK,
            "HS256"
        );
        // `is_internal` given as a string, as the second seed allows.
        let text_flag = tokens::hs256(&tokens::claims(
            json!({"sub": "u", "role": "internal_operator", "is_internal": "true", "acct": gobi_tests::PLATFORM_ACCOUNT}),
        ));
        assert_eq!(app.get(PATH, &text_flag).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn missing_and_malformed_headers() {
    let app = spawn_app().await;
    let missing = app.call(Method::GET, PATH, None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.code(), "MISSING_TOKEN");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");

    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer not.a.jwt",
        "Bearer abc",
        "Token xyz",
    ] {
        let request = http::Request::get(PATH)
            .header("authorization", header)
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = app.send(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(answer.code(), "INVALID_TOKEN", "{header}");
    }
}

#[tokio::test]
async fn forged_tokens_are_invalid() {
    let app = spawn_app().await;
    let claims = tokens::claims(
        json!({"sub": "u", "roles": ["admin"], "acct": gobi_tests::PLATFORM_ACCOUNT}),
    );

    let wrong_key = tokens::rs256_with(&claims, "other-private.pem");
    let wrong_secret = tokens::hs256_with(&claims, b"not-the-secret-not-the-secret-00");
    // The classic confusion attack: HS256 "signed" with the RSA public key's bytes.
    let public_key_as_secret = tokens::hs256_with(
        &claims,
        gobi_tests::read_fixture("jwt-public.pem").as_bytes(),
    );
    let certificate_as_secret = tokens::hs256_with(
        &claims,
        gobi_tests::read_fixture("jwt-certificate.pem").as_bytes(),
    );
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let alg_none_signed = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let unsupported_alg = {
        let valid = tokens::rs256(&claims);
        let signature = valid.rsplit('.').next().unwrap().to_owned();
        format!(
            "{}.{}.{signature}",
            b64(&json!({"alg": "PS256", "typ": "JWT"})),
            b64(&claims)
        )
    };
    let tampered = {
        let valid = tokens::rs256(&claims);
        let parts: Vec<&str> = valid.split('.').collect();
        let mut forged = claims.clone();
        forged["roles"] = json!(["admin", "tenant-manager"]);
        format!("{}.{}.{}", parts[0], b64(&forged), parts[2])
    };
    for (name, token) in [
        ("wrong RSA key", wrong_key),
        ("wrong HS256 secret", wrong_secret),
        ("HS256 with the public key", public_key_as_secret),
        ("HS256 with the certificate", certificate_as_secret),
        ("alg none", alg_none),
        ("alg none with a signature", alg_none_signed),
        ("unsupported alg", unsupported_alg),
        ("tampered payload", tampered),
    ] {
        let answer = app.get(PATH, &token).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(answer.code(), "INVALID_TOKEN", "{name}");
    }
}

#[tokio::test]
async fn claims_are_checked() {
    let app = spawn_app().await;
    let base = json!({"sub": "u", "roles": ["admin"], "acct": gobi_tests::PLATFORM_ACCOUNT});
    let with = |extra: serde_json::Value| {
        let mut claims = tokens::claims(base.clone());
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let past = chrono::Utc::now().timestamp() - 3600;

    for (name, claims, code) in [
        ("expired RS256", with(json!({"exp": past})), "TOKEN_EXPIRED"),
        ("no exp", with(json!({"exp": null})), "INVALID_TOKEN"),
        (
            "wrong issuer",
            with(json!({"iss": "someone-else"})),
            "INVALID_TOKEN",
        ),
        ("no issuer", with(json!({"iss": null})), "INVALID_TOKEN"),
        (
            "wrong audience",
            with(json!({"aud": "other-api"})),
            "INVALID_TOKEN",
        ),
        ("no audience", with(json!({"aud": null})), "INVALID_TOKEN"),
    ] {
        let answer = app.get(PATH, &tokens::rs256(&claims)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(answer.code(), code, "{name}");
    }
    let expired_hs = tokens::hs256(&with(json!({"exp": past})));
    assert_eq!(app.get(PATH, &expired_hs).await.code(), "TOKEN_EXPIRED");
    let audience_list = tokens::rs256(&with(json!({"aud": ["other", "gobi"]})));
    assert_eq!(
        app.get(PATH, &audience_list).await.status,
        StatusCode::OK,
        "aud may be a list"
    );
}

#[tokio::test]
async fn errors_do_not_echo_tokens() {
    let app = spawn_app().await;
    let token = tokens::rs256_with(&tokens::claims(json!({"sub": "u"})), "other-private.pem");
    let answer = app.get(PATH, &token).await;
    assert!(!answer.text.contains(&token[..20]));
}

#[tokio::test]
async fn a_tenant_id_that_is_not_a_uuid_is_an_invalid_token_and_nbf_is_honoured() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Claims", "claims").await;
    let slug = tokens::internal("internal_admin", "tenant-1");
    let refused = app
        .get(&format!("/api/tenants/{tenant}/agents"), &slug)
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_TOKEN")
    );
    let now = chrono::Utc::now().timestamp();
    let early = tokens::hs256(&tokens::claims(
        json!({"sub": "u", "role": "internal_admin", "tenant_id": tenant, "nbf": now + 600}),
    ));
    assert_eq!(
        app.get(&format!("/api/tenants/{tenant}/agents"), &early)
            .await
            .code(),
        "INVALID_TOKEN",
        "not valid before its nbf"
    );
    let ready = tokens::hs256(&tokens::claims(
        json!({"sub": "u", "role": "internal_admin", "tenant_id": tenant, "nbf": now - 1}),
    ));
    assert_eq!(
        app.get(&format!("/api/tenants/{tenant}/agents"), &ready)
            .await
            .status,
        StatusCode::OK
    );
}
