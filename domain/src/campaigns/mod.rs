//! Campaigns and the outbound dialer: the campaign itself (`model`, `store`), when a lead may
//! be called (`law`, `windows`), and inbound campaigns' numbers (`inbound`).

pub mod context;
pub mod dialer;
pub mod dialing;
pub mod inbound;
pub mod law;
pub mod model;
pub mod store;
pub mod windows;
