//! A tenant's dispositions: how calls end for its business (a code, whether it counts as a
//! success, whether it ends a lead's campaign, whether the number goes on the do-not-call list).
//! The runtime reports one per call (`calls::CallStore::set_disposition`).

pub mod model;
pub mod store;
