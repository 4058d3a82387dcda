//! The HTTP client every outbound call GOBI makes starts from (Twilio's API, n8n, webhook
//! endpoints): reqwest speaking TLS through rustls with the AWS-LC provider the AWS SDK already
//! links, and the Mozilla root certificates compiled in (`webpki-roots`), so building a client
//! reads no file and parses no certificate. Without it reqwest has no TLS at all here (its
//! default features are off) and every `https://` URL fails with "scheme is not http".

use std::sync::Arc;

/// A client builder that speaks https; callers add their timeouts, redirects and resolution.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(tls_config())
}

/// A client with reqwest's defaults and https.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("a client of the default settings builds")
}

fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("AWS-LC supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    /// The first bytes a client sends to an `https://` URL are a TLS handshake record
    /// (content type 22, version 3.x): it does not refuse the scheme or speak plain HTTP.
    #[tokio::test]
    async fn an_https_url_is_spoken_to_in_tls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 3];
            socket.read_exact(&mut first).await.unwrap();
            first
        });
        let client = client_builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        let call = tokio::spawn(async move {
            client
                .get(format!("https://127.0.0.1:{port}/"))
                .send()
                .await
        });
        let first = server.await.unwrap();
        assert_eq!(first[0], 22, "a TLS handshake record, got {first:?}");
        assert_eq!(first[1], 3);
        call.abort();
    }
}
