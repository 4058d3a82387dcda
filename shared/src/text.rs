//! Free-text fields every function validates the same way: trimmed, blank meaning absent,
//! bounded in characters (not bytes).

/// A required text field, trimmed: blank is missing, longer than `max` characters is refused.
pub fn required(raw: &str, max: usize) -> Result<String, String> {
    match raw.trim() {
        "" => Err("is required".into()),
        t if t.chars().count() > max => Err(format!("must be at most {max} characters")),
        t => Ok(t.to_owned()),
    }
}

/// An optional text field, trimmed: blank means absent, longer than `max` characters is refused.
pub fn optional(raw: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match raw.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > max => Err(format!("must be at most {max} characters")),
        other => Ok(other.map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
