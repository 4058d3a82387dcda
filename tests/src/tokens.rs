//! Token minting for tests.

use super::*;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Standard claims: issuer, audience and an expiry an hour away, merged with `claims`.
pub fn claims(extra: Value) -> Value {
    let mut base = json!({"iss": ISSUER, "aud": AUDIENCE, "iat": now(), "exp": now() + 3600});
    for (k, v) in extra.as_object().expect("claims object") {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

pub fn hs256(claims: &Value) -> String {
    hs256_with(claims, JWT_SECRET.as_bytes())
}

pub fn hs256_with(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

pub fn rs256(claims: &Value) -> String {
    rs256_with(claims, "jwt-private.pem")
}

pub fn rs256_with(claims: &Value, private_key_fixture: &str) -> String {
    let key = EncodingKey::from_rsa_pem(read_fixture(private_key_fixture).as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

/// First seed: roles list and the platform account.
pub fn platform(roles: &[&str]) -> String {
    rs256(&claims(
        json!({"sub": "user-1", "email": "ops@example.com", "roles": roles, "acct": PLATFORM_ACCOUNT}),
    ))
}

pub fn admin() -> String {
    platform(&["admin"])
}

pub fn manager() -> String {
    platform(&["tenant-manager"])
}

pub fn reader() -> String {
    platform(&["user"])
}

/// Second seed with the platform account: an internal role that acts on every tenant.
pub fn internal_platform(role: &str) -> String {
    hs256(&claims(
        json!({"sub": "user-2", "role": role, "is_internal": true, "acct": PLATFORM_ACCOUNT}),
    ))
}

/// Second seed: one role, `is_internal`, a tenant, no `acct`: bound to that tenant alone.
pub fn internal(role: &str, tenant_id: &str) -> String {
    hs256(&claims(
        json!({"sub": "user-2", "role": role, "is_internal": true, "tenant_id": tenant_id}),
    ))
}

/// A tenant's own user: not platform staff.
pub fn client_viewer(tenant_id: &str) -> String {
    hs256(&claims(
        json!({"sub": "user-3", "role": "client_viewer", "is_internal": false, "tenant_id": tenant_id}),
    ))
}
