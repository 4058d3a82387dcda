use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::JwtConfig;
use crate::error::ApiError;

/// The claims GOBI reads, from either seed's vocabulary.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(
        default,
        deserialize_with = "flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_internal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acct: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// A string or a list of strings; checked by the verifier, never read by handlers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

/// `is_internal` arrives as `true` or as the string `"true"` (the second seed says both).
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(deserializer)? {
        None => None,
        Some(Flag::Bool(b)) => Some(b),
        Some(Flag::Text(t)) => Some(t.eq_ignore_ascii_case("true")),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("JWT_PUBLIC_KEY is neither an X.509 certificate nor an RSA public key PEM: {0}")]
    PublicKey(String),
    #[error("neither JWT_PUBLIC_KEY nor JWT_SECRET is set; no token could be verified")]
    NoKey,
    #[error("JWT_SECRET is not set; GOBI cannot issue tokens")]
    NoSecret,
}

/// Verifies bearer tokens. Each key accepts exactly one algorithm: RS256 for the public key,
/// HS256 for the secret, so an HS256 token "signed" with the public key's bytes never verifies.
pub struct JwtVerifier {
    rs256: Option<(DecodingKey, Validation)>,
    hs256: Option<(DecodingKey, Validation)>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("rs256", &self.rs256.is_some())
            .field("hs256", &self.hs256.is_some())
            .finish()
    }
}

impl JwtVerifier {
    pub fn new(config: &JwtConfig) -> Result<Self, KeyError> {
        let validation = |algorithm| {
            let mut v = Validation::new(algorithm);
            v.leeway = 5;
            v.validate_exp = true;
            v.validate_nbf = true;
            v.required_spec_claims = HashSet::from(["exp".to_owned()]);
            match &config.issuer {
                Some(issuer) => {
                    v.set_issuer(&[issuer]);
                    v.required_spec_claims.insert("iss".to_owned());
                }
                None => v.iss = None,
            }
            match &config.audience {
                Some(audience) => {
                    v.set_audience(&[audience]);
                    v.required_spec_claims.insert("aud".to_owned());
                }
                None => v.validate_aud = false,
            }
            v
        };
        let rs256 = match &config.public_key {
            Some(pem) => Some((rsa_decoding_key(pem)?, validation(Algorithm::RS256))),
            None => None,
        };
        let hs256 = config.secret.as_ref().map(|s| {
            (
                DecodingKey::from_secret(s.expose_secret().as_bytes()),
                validation(Algorithm::HS256),
            )
        });
        if rs256.is_none() && hs256.is_none() {
            return Err(KeyError::NoKey);
        }
        Ok(Self { rs256, hs256 })
    }

    /// Checks the signature with the key pinned to the token's algorithm, then `exp`, `iss`, `aud`.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::InvalidToken)?;
        let (key, validation) = match header.alg {
            Algorithm::RS256 => self.rs256.as_ref(),
            Algorithm::HS256 => self.hs256.as_ref(),
            _ => None,
        }
        .ok_or(ApiError::InvalidToken)?;
        jsonwebtoken::decode::<Claims>(token, key, validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::TokenExpired,
                _ => ApiError::InvalidToken,
            })
    }
}

/// Accepts a certificate (the key is taken from its SubjectPublicKeyInfo) or a public key PEM.
fn rsa_decoding_key(pem_text: &str) -> Result<DecodingKey, KeyError> {
    let pem_text = pem_text.trim();
    if pem_text.contains("BEGIN CERTIFICATE") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes())
            .map_err(|e| KeyError::PublicKey(format!("certificate PEM: {e}")))?;
        let certificate = pem
            .parse_x509()
            .map_err(|e| KeyError::PublicKey(format!("certificate: {e}")))?;
        let spki = certificate.public_key();
        if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
            return Err(KeyError::PublicKey(
                "the certificate's key is not an RSA key".into(),
            ));
        }
        // For RSA, the SPKI bit string is the PKCS#1 RSAPublicKey DER.
        Ok(DecodingKey::from_rsa_der(&spki.subject_public_key.data))
    } else {
        DecodingKey::from_rsa_pem(pem_text.as_bytes())
            .map_err(|e| KeyError::PublicKey(e.to_string()))
    }
}

/// Signs GOBI's own HS256 tokens with `JWT_SECRET`, stamping `iss` and `aud` when configured.
#[derive(Clone)]
pub struct JwtIssuer {
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwtIssuer {
    pub fn new(config: &JwtConfig) -> Result<Self, KeyError> {
        let secret = config.secret.as_ref().ok_or(KeyError::NoSecret)?;
        Ok(Self {
            key: EncodingKey::from_secret(secret.expose_secret().as_bytes()),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        })
    }

    /// Signs `claims` valid for `ttl` from now.
    pub fn issue(&self, mut claims: Claims, ttl: chrono::Duration) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        claims.iat = Some(now);
        claims.exp = now + ttl.num_seconds();
        claims.iss = self.issuer.clone();
        claims.aud = self.audience.clone().map(serde_json::Value::String);
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.key,
        )?)
    }
}
