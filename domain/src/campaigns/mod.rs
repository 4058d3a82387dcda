//! Campaigns and the outbound dialer: the campaign itself (`model`, `store`) and when a lead may
//! be called (`law`, `windows`).

pub mod context;
pub mod dialer;
pub mod dialing;
pub mod law;
pub mod model;
pub mod store;
pub mod windows;
