pub mod signature;
pub mod twiml;
