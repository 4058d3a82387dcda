//! Who is calling: JWT verification (RS256 and HS256, algorithms pinned per key), the principal
//! both seeds' claim sets map to, and the checks handlers call.

mod jwt;
mod keys;
mod principal;

pub use jwt::{Claims, JwtIssuer, JwtVerifier, KeyError};
pub use keys::{require_header_key, secret_matches};
pub use principal::{Access, Principal, Role};
