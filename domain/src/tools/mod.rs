//! The tools table: a tenant's tools, one name marker each (names are unique per tenant,
//! case-insensitively). Agents' allowlists refer to these ids; the automation gateway serves them.

/// Key formats of the tools table.
pub mod keys {
    use gobi_shared::ids::{TenantId, ToolId};

    pub fn tenant(id: TenantId) -> String {
        format!("TENANT#{id}")
    }

    pub fn tool(id: ToolId) -> String {
        format!("TOOL#{id}")
    }

    pub fn name(name: &str) -> String {
        format!("TOOLNAME#{}", name.to_lowercase())
    }
}

pub mod model;
pub mod store;

pub use model::{Tool, ToolEndpoint};
pub use store::ToolStore;
