//! `X-Twilio-Signature`, checked as Twilio's SDKs check it: HMAC-SHA1 with the auth token over
//! the full URL followed by every POST parameter (sorted by name, then value) as name + value,
//! base64. The URL is tried as given, without its port, and with the scheme's default port.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The signature Twilio would send for this URL and these parameters.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Splits `scheme://authority/rest` into its parts (kept exactly as written: Twilio signs the
/// URL as it called it, case and all).
fn split(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((scheme, &rest[..end], &rest[end..]))
}

/// The authority's host part and its port, if any (after any `user:pass@`).
fn host_and_port(authority: &str) -> (&str, &str, Option<&str>) {
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((user, host)) => (&authority[..user.len() + 1], host),
        None => ("", authority),
    };
    match hostport.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (userinfo, host, Some(port))
        }
        _ => (userinfo, hostport, None),
    }
}

/// The URL as given, without its port, and with the default port: Twilio may have signed any.
fn candidates(url: &str) -> Vec<String> {
    let mut urls = vec![url.to_owned()];
    if let Some((scheme, authority, rest)) = split(url) {
        let (userinfo, host, port) = host_and_port(authority);
        match port {
            Some(_) => urls.push(format!("{scheme}://{userinfo}{host}{rest}")),
            None => {
                let default = if scheme.eq_ignore_ascii_case("https") {
                    "443"
                } else {
                    "80"
                };
                urls.push(format!("{scheme}://{userinfo}{host}:{default}{rest}"));
            }
        }
    }
    urls
}

/// Whether `signature` is Twilio's for this request; compared in constant time.
pub fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    candidates(url).iter().any(|candidate| {
        bool::from(
            compute(auth_token, candidate, params)
                .as_bytes()
                .ct_eq(signature.as_bytes()),
        )
    })
}

#[cfg(test)]
mod tests {
    //! Twilio's published request-validation vectors (token `12345`).
    use super::*;

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("From", "+14158675309"),
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn the_documented_example() {
        assert_eq!(
            compute("12345", URL, &params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(is_valid(
            "12345",
            URL,
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn default_ports_are_added_and_custom_ports_removed() {
        // Signed with :443 added, validated against the URL without it.
        assert!(is_valid(
            "12345",
            URL,
            &params(),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        // http signed with :80 added.
        assert!(is_valid(
            "12345",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params(),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
        // A custom port, signed with it, or without it.
        assert!(is_valid(
            "12345",
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &params(),
            "CYn1h0gLBdNxDGkKJg6hYohgeD8="
        ));
        assert!(is_valid(
            "12345",
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(is_valid(
            "12345",
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &params(),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
    }

    #[test]
    fn the_url_is_signed_as_written() {
        assert!(is_valid(
            "12345",
            "https://MyCompany.com/myapp.php?foo=1&bar=2",
            &params(),
            "g9IN/x4Cft2g517EjYvEvM/W7LU="
        ));
        assert!(is_valid(
            "12345",
            "https://MyCompany.com:1234/myapp.php?foo=1&bar=2",
            &params(),
            "PCqOZm8cnu/L6+u5i5fuEd+Iac4="
        ));
        assert!(is_valid(
            "12345",
            "http://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
            &params(),
            "PJ08CxXr7KLPjEQCTc8LkUSMwSM="
        ));
        assert!(!is_valid(
            "12345",
            "https://MyCompany.com/myapp.php?foo=1&bar=2",
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn repeated_keys_are_sorted_by_value() {
        let repeated: Vec<(String, String)> = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(is_valid(
            "12345",
            URL,
            &repeated,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
    }

    #[test]
    fn forgeries_fail() {
        assert!(!is_valid(
            "12345",
            URL,
            &params(),
            "NOTRSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!is_valid(
            "12345",
            &format!("{URL}&extra=1"),
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!is_valid(
            "54321",
            URL,
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        let mut tampered = params();
        tampered[2].1 = "9999".into();
        assert!(!is_valid(
            "12345",
            URL,
            &tampered,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!is_valid("12345", URL, &params(), ""));
    }
}
