//! Free-text fields every function validates the same way: trimmed, blank meaning absent,
//! bounded in characters (not bytes).

/// Whitespace as the OpenAPI document's patterns (`\S`, ECMA-262 regular expressions) mean it.
/// Rust's `char::is_whitespace` differs in two characters (it counts U+0085 and not U+FEFF),
/// and a value the document calls valid must not be refused here, nor the other way round.
pub fn is_pattern_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// `raw` without leading and trailing [`is_pattern_space`] characters.
pub fn trim(raw: &str) -> &str {
    raw.trim_matches(is_pattern_space)
}

/// One or more characters, none of them whitespace: the document's `^\S+$`.
pub fn is_token(raw: &str) -> bool {
    !raw.is_empty() && !raw.chars().any(is_pattern_space)
}

/// A required text field, trimmed: blank is missing, longer than `max` characters is refused.
pub fn required(raw: &str, max: usize) -> Result<String, String> {
    match trim(raw) {
        "" => Err("is required".into()),
        t if t.chars().count() > max => Err(format!("must be at most {max} characters")),
        t => Ok(t.to_owned()),
    }
}

/// An optional text field, trimmed: blank means absent, longer than `max` characters is refused.
pub fn optional(raw: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match raw.map(trim).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > max => Err(format!("must be at most {max} characters")),
        other => Ok(other.map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_what_the_documents_patterns_call_whitespace() {
        // The exact set a JSON Schema (ECMA-262) `\s` matches, as schemathesis's validator has it.
        let expected: Vec<u32> = vec![
            0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
            0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
            0xFEFF,
        ];
        let found: Vec<u32> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| is_pattern_space(*c))
            .map(u32::from)
            .collect();
        assert_eq!(found, expected);
        // U+0085 is text, not space, to the document: schemathesis found it refused here.
        assert_eq!(required("\u{85}", 5), Ok("\u{85}".into()));
        assert!(is_token("f[\u{85}y"));
        assert_eq!(required("\u{FEFF} \u{FEFF}", 5), Err("is required".into()));
        assert!(!is_token("a\u{FEFF}b"));
        assert!(!is_token(""));
    }

    #[test]
    fn required_text_is_trimmed_and_bounded_in_characters() {
        assert_eq!(required("  Front desk ", 20), Ok("Front desk".into()));
        assert_eq!(required(" \t ", 20), Err("is required".into()));
        assert_eq!(required("ééé", 3), Ok("ééé".into()));
        assert_eq!(
            required("éééé", 3),
            Err("must be at most 3 characters".into())
        );
    }

    #[test]
    fn optional_text_treats_blank_as_absent() {
        assert_eq!(optional(None, 5), Ok(None));
        assert_eq!(optional(Some("   "), 5), Ok(None));
        assert_eq!(optional(Some(" ab "), 5), Ok(Some("ab".into())));
        assert_eq!(
            optional(Some("abcdef"), 5),
            Err("must be at most 5 characters".into())
        );
    }
}
