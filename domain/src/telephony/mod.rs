//! The telephony providers GOBI talks to: Twilio's REST API (numbers, and outbound calls).

pub mod twilio;
