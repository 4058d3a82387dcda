//! Serves the fake Twilio and LiveKit on fixed loopback ports, for `make test`'s schemathesis run
//! (and for trying purchases locally without real accounts).
//!
//!   gobi-fakes <twilio-port> <livekit-port>
//! Credentials: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, LIVEKIT_API_KEY, LIVEKIT_API_SECRET.

use gobi_tests::fakes::{self, livekit::FakeLiveKit, twilio::FakeTwilio};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let twilio_port: u16 = args.next().unwrap_or_else(|| "3201".into()).parse()?;
    let livekit_port: u16 = args.next().unwrap_or_else(|| "3202".into()).parse()?;
    let env = |name: &str| std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set"));
    let twilio = FakeTwilio::new(&env("TWILIO_ACCOUNT_SID")?, &env("TWILIO_AUTH_TOKEN")?);
    let livekit = FakeLiveKit::new(&env("LIVEKIT_API_KEY")?, &env("LIVEKIT_API_SECRET")?);
    let twilio_url = fakes::serve(twilio.router(), ([127, 0, 0, 1], twilio_port).into()).await;
    let livekit_url = fakes::serve(livekit.router(), ([127, 0, 0, 1], livekit_port).into()).await;
    eprintln!("fake Twilio on {twilio_url}, fake LiveKit on {livekit_url}");
    gobi_shared::http::shutdown_signal().await;
    Ok(())
}
