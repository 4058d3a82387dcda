//! Integration secrets, tools' header values and webhook signing secrets are encrypted by KMS under an encryption context
//! of the tenant and the object they belong to, so a ciphertext only decrypts for what it was
//! made for. Plaintext is never stored, logged or returned.

use crate::ids::{TenantId, ToolId};
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone, Debug)]
pub struct SecretBox {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

/// What a ciphertext belongs to; part of its encryption context.
#[derive(Debug, Clone, Copy)]
pub enum SealedFor {
    /// An n8n integration's secret.
    Integration(uuid::Uuid),
    /// A tool endpoint's header values.
    ToolHeaders(ToolId),
    /// A webhook endpoint's signing secret.
    WebhookEndpoint(uuid::Uuid),
}

fn context(tenant: TenantId, owner: SealedFor) -> [(String, String); 2] {
    let owner = match owner {
        SealedFor::Integration(id) => ("integration_id".into(), id.to_string()),
        SealedFor::ToolHeaders(id) => ("tool_headers_id".into(), id.to_string()),
        SealedFor::WebhookEndpoint(id) => ("webhook_endpoint_id".into(), id.to_string()),
    };
    [("tenant_id".into(), tenant.to_string()), owner]
}

impl SecretBox {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            key_id: key_id.into(),
        }
    }

    /// Base64 ciphertext of `secret`.
    pub async fn seal(
        &self,
        tenant: TenantId,
        owner: SealedFor,
        secret: &SecretString,
    ) -> anyhow::Result<String> {
        let mut request = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(secret.expose_secret().as_bytes()));
        for (k, v) in context(tenant, owner) {
            request = request.encryption_context(k, v);
        }
        let output = request.send().await?;
        let blob = output
            .ciphertext_blob
            .ok_or_else(|| anyhow::anyhow!("KMS returned no ciphertext"))?;
        Ok(STANDARD.encode(blob.into_inner()))
    }

    /// The secret, if the ciphertext was made for this tenant and owner.
    pub async fn open(
        &self,
        tenant: TenantId,
        owner: SealedFor,
        ciphertext: &str,
    ) -> anyhow::Result<SecretString> {
        let mut request = self
            .kms
            .decrypt()
            .ciphertext_blob(Blob::new(STANDARD.decode(ciphertext)?));
        for (k, v) in context(tenant, owner) {
            request = request.encryption_context(k, v);
        }
        let output = request.send().await?;
        let plaintext = output
            .plaintext
            .ok_or_else(|| anyhow::anyhow!("KMS returned no plaintext"))?;
        Ok(SecretString::from(String::from_utf8(
            plaintext.into_inner(),
        )?))
    }
}
