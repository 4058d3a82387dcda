//! Campaigns and the outbound dialer: when a lead may be called (`law`, `windows`).

pub mod law;
pub mod windows;
