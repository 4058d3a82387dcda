//! Key formats of the calls table.

use gobi_shared::ids::{CallId, DispatchId, TenantId};

pub const PENDING: &str = "PENDING_DISPATCH";
pub const PENDING_INDEX: &str = "gsi2";

pub fn tenant(id: TenantId) -> String {
    format!("TENANT#{id}")
}

pub fn call(id: CallId) -> String {
    format!("CALL#{id}")
}

pub fn call_sid(sid: &str) -> String {
    format!("CALLSID#{sid}")
}

pub fn dispatch(id: DispatchId) -> String {
    format!("DISPATCH#{id}")
}
