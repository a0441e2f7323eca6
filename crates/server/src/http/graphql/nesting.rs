//! A guard in front of the GraphQL parser: its recursive descent would overflow the
//! stack on a document nested thousands deep (`{a{a{a…`, `[[[…`), killing the process,
//! so nesting is measured by a cheap lexical scan first (SPEC §8: no input may crash
//! the process). The depth limit proper is applied later, on the parsed document.

/// Deeper bracket nesting than this is refused before parsing: far beyond any useful
/// document (the query depth limit is 16), far below what overflows the stack.
pub const MAX_NESTING: usize = 128;

/// The deepest nesting of `{`, `[` and `(` in `document`, ignoring strings, block
/// strings and comments. Stops counting once past `limit`.
pub fn depth_exceeds(document: &str, limit: usize) -> bool {
    let bytes = document.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped triple quote inside a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_selections_lists_and_objects_are_caught() {
        let deep = |open: &str, close: &str| {
            format!("{{ f(a: {}1{}) }}", open.repeat(200), close.repeat(200))
        };
        assert!(depth_exceeds(&deep("[", "]"), MAX_NESTING));
        assert!(depth_exceeds(&deep("{b: ", "}"), MAX_NESTING));
        assert!(depth_exceeds(&"{ a ".repeat(5000), MAX_NESTING));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = format!(
            "{{ f(a: \"{}\", b: \"\"\"{}\"\"\") # {}\n }}",
            "[".repeat(500),
            "{".repeat(500),
            "(".repeat(500)
        );
        assert!(!depth_exceeds(&text, MAX_NESTING));
    }

    #[test]
    fn ordinary_documents_pass() {
        let save = "mutation Save($input: In!) { save(input: $input) { id a { b { c } } } }";
        assert!(!depth_exceeds(save, MAX_NESTING));
        assert!(!depth_exceeds(save, 4));
        assert!(depth_exceeds(save, 3));
    }
}
