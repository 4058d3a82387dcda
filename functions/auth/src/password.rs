//! Argon2id password hashing (PHC strings). Hashing and verifying run on the blocking pool.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use gobi_shared::error::{ApiError, ApiResult};
use secrecy::{ExposeSecret, SecretString};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

/// A hash no password matches, verified when the e-mail is unknown so that answer takes as long
/// as a wrong password does: `Argon2::default()`'s hash of `gobi-no-such-user-placeholder`,
/// written out once so no function hashes anything at init (a test checks its cost is the
/// default's).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$IIfKUUYMNmc1ApooI0DqNg$DshpMUO/mK5wDCjKuqjRmzcibrCKeNcCgVf3szUbDP8";

/// The length rule, as a message for the `password` field.
pub fn check_strength(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!("must be at least {MIN_LENGTH} characters"));
    }
    if length > MAX_LENGTH {
        return Err(format!("must be at most {MAX_LENGTH} characters"));
    }
    Ok(())
}

pub async fn hash(password: SecretString) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await
    .map_err(anyhow::Error::new)?
    .map_err(ApiError::Internal)
}

/// Verifies against `stored`, or against the dummy hash when there is no user.
pub async fn verify(password: SecretString, stored: Option<String>) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || check(password.expose_secret(), stored.as_deref()))
        .await
        .map_err(anyhow::Error::new)?
        .map_err(ApiError::Internal)
}

/// The hash a check verifies against: the user's, or the dummy one when there is no user.
fn hash_for(stored: Option<&str>) -> String {
    stored
        .map(str::to_owned)
        .unwrap_or_else(|| DUMMY_HASH.to_owned())
}

/// Always runs one Argon2 verification, so an unknown e-mail costs what a wrong password costs.
fn check(password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
    let phc = hash_for(stored);
    let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
    let verified = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    Ok(stored.is_some() && verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(
            verify("correct horse battery".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".into(), Some(phc))
                .await
                .unwrap()
        );
        assert!(
            !verify("gobi-no-such-user-placeholder".into(), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn an_unknown_user_costs_an_argon2_verification_too() {
        let dummy = hash_for(None);
        assert_eq!(
            dummy, DUMMY_HASH,
            "an unknown user is checked against the dummy hash"
        );
        let real = Argon2::default()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert_eq!(
            PasswordHash::new(&real).unwrap().params,
            PasswordHash::new(&dummy).unwrap().params,
            "with the same algorithm and cost as real hashes"
        );
        // A real hash (of the placeholder), so its check runs the whole verification.
        assert!(
            Argon2::default()
                .verify_password(
                    b"gobi-no-such-user-placeholder",
                    &PasswordHash::new(DUMMY_HASH).unwrap()
                )
                .is_ok()
        );
        assert!(!check("whatever password", None).unwrap());
        assert!(!check("wrong", Some(&real)).unwrap());
        assert!(check("correct horse battery", Some(&real)).unwrap());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough password").is_ok());
        assert!(check_strength(&"x".repeat(MAX_LENGTH + 1)).is_err());
    }
}
