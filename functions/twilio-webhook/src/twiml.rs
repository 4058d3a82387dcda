//! TwiML answers, every value escaped.

/// Escapes text for XML content and attribute values.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

const HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// `<Connect><Stream>` with parameters the stream worker receives in its start message.
pub fn stream(url: &str, parameters: &[(&str, &str)]) -> String {
    let params: String = parameters
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<Parameter name="{}" value="{}"/>"#,
                escape(name),
                escape(value)
            )
        })
        .collect();
    format!(
        r#"{HEADER}<Response><Connect><Stream url="{}">{params}</Stream></Connect></Response>"#,
        escape(url)
    )
}

/// `<Dial><Sip>` to a SIP URI, with the digest credentials the LiveKit trunk requires.
pub fn dial_sip(uri: &str, credentials: Option<(&str, &str)>) -> String {
    let auth = match credentials {
        Some((username, password)) => format!(
            r#" username="{}" password="{}""#,
            escape(username),
            escape(password)
        ),
        None => String::new(),
    };
    format!(
        "{HEADER}<Response><Dial><Sip{auth}>{}</Sip></Dial></Response>",
        escape(uri)
    )
}

/// A spoken message, then hang up.
pub fn say_and_hang_up(message: &str) -> String {
    format!(
        "{HEADER}<Response><Say>{}</Say><Hangup/></Response>",
        escape(message)
    )
}

pub fn reject() -> String {
    format!("{HEADER}<Response><Reject/></Response>")
}

/// End the call (an outbound call no one should talk to: a machine, a stopped campaign).
pub fn hang_up() -> String {
    format!("{HEADER}<Response><Hangup/></Response>")
}

/// An empty answer (status callbacks).
pub fn empty() -> String {
    format!("{HEADER}<Response/>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let xml = stream("wss://x/?a=1&b=\"2\"", &[("token", "<t>&'")]);
        assert!(xml.contains(r#"url="wss://x/?a=1&amp;b=&quot;2&quot;""#));
        assert!(xml.contains(r#"value="&lt;t&gt;&amp;&apos;""#));
        assert_eq!(escape("a\u{1}b"), "ab");
        assert!(dial_sip("sip:+1@h</Sip>", None).contains("sip:+1@h&lt;/Sip&gt;"));
        assert!(
            dial_sip("sip:+1@h", Some(("gobi", "p\"w")))
                .contains(r#"<Sip username="gobi" password="p&quot;w">sip:+1@h</Sip>"#)
        );
    }
}
