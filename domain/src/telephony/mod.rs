//! The telephony providers GOBI talks to: Twilio's REST API (numbers, and outbound calls) and
//! LiveKit's SIP service (outbound calls through an outbound trunk).

pub mod livekit_sip;
pub mod twilio;
