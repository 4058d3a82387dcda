//! The HTTP clients every outbound call GOBI makes starts from. Both speak TLS through rustls
//! with the AWS-LC provider and trust Mozilla's root certificates compiled in, so building one
//! reads no file:
//! - [`client_builder`]: reqwest, for Twilio's API, n8n and webhook endpoints. Without it reqwest
//!   has no TLS at all here (its default features are off) and every `https://` URL fails with
//!   "scheme is not http".
//! - [`sdk_http_client`]: the AWS SDK's own client, for every AWS call.

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

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

/// The HTTP client of every AWS SDK client (`dynamo::sdk_config`): the SDK's own hyper and
/// rustls stack with AWS-LC, as its default client, trusting Mozilla's roots instead of the
/// system's. The default loads the system's during a function's init, before it first asks for
/// an event (strace under `make bench`), by reading /etc/ssl/certs: the bundle and every file
/// beside it, 4.4 to 5 ms on the bench machine. These are the same authorities
/// [`client_builder`]'s clients trust; the SDK's trust store takes them as PEM, which it parses
/// when it builds its connector: at the first request, not at each client's construction
/// ([`ConnectorOnFirstUse`]).
pub fn sdk_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(mozilla_roots_pem());
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a trust store of certificates only builds");
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https();
    SharedHttpClient::new(ConnectorOnFirstUse(client))
}

/// An SDK HTTP client whose connector is built at the first request only. The SDK's own client
/// also builds one, and drops it, whenever an AWS client is constructed on it (its
/// `validate_base_client_config`, there to load the system's certificates at init): with our
/// trust store that parses every root certificate again, 0.4 to 0.6 ms for each client a
/// function builds at init (timed on the bench machine), for a connector nobody uses.
#[derive(Debug)]
struct ConnectorOnFirstUse(SharedHttpClient);

impl HttpClient for ConnectorOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// Mozilla's root certificates (`webpki-root-certs`) as one PEM bundle.
fn mozilla_roots_pem() -> Vec<u8> {
    use base64::Engine;
    let certificates = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
    // Sized up front: the trust store keeps this buffer for the life of the process.
    let base64_bytes: usize = certificates.iter().map(|c| c.len().div_ceil(3) * 4).sum();
    let mut pem = String::with_capacity(base64_bytes + base64_bytes / 64 + certificates.len() * 60);
    for certificate in certificates {
        let encoded = base64::engine::general_purpose::STANDARD.encode(certificate.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.shrink_to_fit();
    pem.into_bytes()
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    /// The first three bytes `call` (given a local port) sends to that port.
    async fn first_bytes_sent_by<F, C>(call: F) -> [u8; 3]
    where
        F: FnOnce(u16) -> C,
        C: Future + Send + 'static,
        C::Output: Send,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 3];
            socket.read_exact(&mut first).await.unwrap();
            first
        });
        let call = tokio::spawn(call(port));
        let first = server.await.unwrap();
        call.abort();
        first
    }

    /// The first bytes a client sends to an `https://` URL are a TLS handshake record
    /// (content type 22, version 3.x): it does not refuse the scheme or speak plain HTTP.
    #[tokio::test]
    async fn an_https_url_is_spoken_to_in_tls() {
        let client = client_builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        let first = first_bytes_sent_by(|port| async move {
            client
                .get(format!("https://127.0.0.1:{port}/"))
                .send()
                .await
        })
        .await;
        assert_eq!(first[0], 22, "a TLS handshake record, got {first:?}");
        assert_eq!(first[1], 3);
    }

    /// An AWS client on [`sdk_http_client`] speaks TLS to an `https://` endpoint.
    #[tokio::test]
    async fn an_aws_call_over_https_is_spoken_in_tls() {
        let first = first_bytes_sent_by(|port| async move {
            let config = aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "id", "secret", None, None, "test",
                ))
                .endpoint_url(format!("https://127.0.0.1:{port}"))
                .http_client(sdk_http_client())
                .build();
            aws_sdk_dynamodb::Client::from_conf(config)
                .list_tables()
                .send()
                .await
        })
        .await;
        assert_eq!(first[0], 22, "a TLS handshake record, got {first:?}");
        assert_eq!(first[1], 3);
    }

    /// An AWS client constructed on the wrapped SDK client asks it for no connector and no
    /// check (where the SDK's own client builds and drops one); its first request gets its
    /// connector from the wrapped client and is sent through it.
    #[tokio::test]
    async fn the_sdk_client_builds_its_connector_at_the_first_request_only() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
        use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
        use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
        use aws_smithy_runtime_api::http::Response;
        use aws_smithy_types::body::SdkBody;

        #[derive(Debug, Default, Clone)]
        struct Counted {
            checks: Arc<AtomicUsize>,
            connectors: Arc<AtomicUsize>,
            sent: Arc<AtomicUsize>,
        }
        #[derive(Debug)]
        struct NoTables(Arc<AtomicUsize>);
        impl HttpConnector for NoTables {
            fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
                self.0.fetch_add(1, Ordering::SeqCst);
                let body = SdkBody::from(r#"{"TableNames":[]}"#);
                HttpConnectorFuture::ready(Ok(Response::new(200.try_into().unwrap(), body)))
            }
        }
        impl HttpClient for Counted {
            fn http_connector(
                &self,
                _: &HttpConnectorSettings,
                _: &RuntimeComponents,
            ) -> SharedHttpConnector {
                self.connectors.fetch_add(1, Ordering::SeqCst);
                SharedHttpConnector::new(NoTables(self.sent.clone()))
            }
            fn validate_base_client_config(
                &self,
                _: &RuntimeComponentsBuilder,
                _: &ConfigBag,
            ) -> Result<(), BoxError> {
                self.checks.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }

        let counted = Counted::default();
        let wrapped =
            SharedHttpClient::new(ConnectorOnFirstUse(SharedHttpClient::new(counted.clone())));
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "id", "secret", None, None, "test",
            ))
            .endpoint_url("http://127.0.0.1:9")
            .http_client(wrapped)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        assert_eq!(counted.checks.load(Ordering::SeqCst), 0);
        assert_eq!(counted.connectors.load(Ordering::SeqCst), 0);

        let tables = client.list_tables().send().await.unwrap();
        assert!(tables.table_names().is_empty());
        assert_eq!(counted.connectors.load(Ordering::SeqCst), 1);
        assert_eq!(counted.sent.load(Ordering::SeqCst), 1);
        assert_eq!(counted.checks.load(Ordering::SeqCst), 0);
    }

    /// The SDK's trust store is Mozilla's roots, every one of them, parsed as the SDK parses
    /// its PEM (a certificate it cannot parse would panic its connector).
    #[test]
    fn the_sdk_trusts_mozillas_roots() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let pem = mozilla_roots_pem();
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(certificates, webpki_root_certs::TLS_SERVER_ROOT_CERTS);
        assert!(certificates.len() > 100, "{} roots", certificates.len());
        let mut store = rustls::RootCertStore::empty();
        for certificate in certificates {
            store.add(certificate).unwrap();
        }
        assert_eq!(store.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
    }
}
