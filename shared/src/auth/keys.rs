use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Compares a presented secret with the configured one in constant time (for equal lengths;
/// only the length can show).
pub fn secret_matches(expected: &SecretString, given: &str) -> bool {
    expected
        .expose_secret()
        .as_bytes()
        .ct_eq(given.as_bytes())
        .into()
}

/// Guards a route with a shared key in `header`: refused (403 `BOOTSTRAP_DISABLED`) when no key
/// is configured, 401 `INVALID_BOOTSTRAP_KEY` when the header is missing or wrong.
pub fn require_header_key(
    headers: &HeaderMap,
    header: &str,
    configured: Option<&SecretString>,
) -> Result<(), ApiError> {
    let Some(expected) = configured else {
        return Err(ApiError::Forbidden {
            code: "BOOTSTRAP_DISABLED",
            message: "This route is disabled: its bootstrap key is not configured".into(),
        });
    };
    let given = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given.is_empty() || !secret_matches(expected, given) {
        return Err(ApiError::Unauthorized {
            code: "INVALID_BOOTSTRAP_KEY",
            message: format!("Missing or wrong {header} header"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let key = SecretString::from("s3cret-key");
        let mut headers = HeaderMap::new();
        assert_eq!(
            require_header_key(&headers, "x-k", None)
                .unwrap_err()
                .code(),
            "BOOTSTRAP_DISABLED"
        );
        assert_eq!(
            require_header_key(&headers, "x-k", Some(&key))
                .unwrap_err()
                .code(),
            "INVALID_BOOTSTRAP_KEY"
        );
        headers.insert("x-k", "s3cret-kez".parse().unwrap());
        assert_eq!(
            require_header_key(&headers, "x-k", Some(&key))
                .unwrap_err()
                .code(),
            "INVALID_BOOTSTRAP_KEY"
        );
        headers.insert("x-k", "s3cret-key".parse().unwrap());
        assert!(require_header_key(&headers, "x-k", Some(&key)).is_ok());
    }
}
