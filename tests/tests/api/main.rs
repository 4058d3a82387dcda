//! The end-to-end suite as one test binary (one link instead of one per file), a module per area.

mod agents;
mod auth;
mod automation;
mod bola;
mod call_records;
mod campaign_dialer;
mod campaigns;
mod crate_graph;
mod dev_server;
mod idempotency;
mod identity;
mod inbound_calls;
mod lambda_events;
mod lead_import;
mod lead_import_api;
mod lead_list_deletion;
mod lead_lists;
mod local_kms;
mod phone_numbers;
mod request_logs;
mod secret_debug;
mod suppression_import;
mod system;
mod template_routes;
mod tenants;
