//! Whitespace as the published schemas mean it, so the server and the OpenAPI patterns
//! (`\S`, `[^@\s]`, ECMAScript regular expressions) accept exactly the same strings.

/// ECMAScript's `\s`: WhiteSpace and LineTerminator (ECMA-262 §12.2, §12.3). Narrower than
/// Rust's `char::is_whitespace`, which also counts U+0085 and U+180E.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// True when `s` has no character other than `\s` (the pattern `\S` would not match it).
pub fn is_blank(s: &str) -> bool {
    s.chars().all(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_ecmascript_not_rust() {
        assert!(is_blank(" \t\u{3000}\u{FEFF}"));
        assert!(!is_blank("\u{85}"), "U+0085 is not \\s in ECMAScript");
        assert!(!is_blank(" a "));
        assert!(is_blank(""));
    }
}
