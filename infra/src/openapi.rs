//! The OpenAPI document of every function, assembled from their routers. `make openapi` writes
//! it to `functions/system/openapi.json`, which `system` serves as it is (so `system` links no
//! other function); a test fails when the committed file and this assembly differ.

use std::path::PathBuf;

use utoipa::openapi::OpenApi;

/// Where the committed document lives.
pub fn document_path() -> PathBuf {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("infra lives in the workspace");
    workspace.join("functions/system/openapi.json")
}

/// Every function's part of the document, assembled into one.
pub fn document() -> OpenApi {
    gobi_shared::openapi::assemble([
        gobi_system::openapi(),
        gobi_auth::openapi(),
        gobi_phone_numbers::openapi(),
        gobi_agents::openapi(),
        gobi_runtime::openapi(),
        gobi_twilio_webhook::openapi(),
        gobi_automation::openapi(),
        gobi_client::openapi(),
        gobi_lead_lists::openapi(),
        gobi_campaigns::openapi(),
        gobi_webhooks::openapi(),
        gobi_tenants::openapi(),
    ])
}

/// The document as the committed file holds it: pretty JSON and a final newline.
pub fn document_text() -> anyhow::Result<String> {
    Ok(format!("{}\n", document().to_pretty_json()?))
}
