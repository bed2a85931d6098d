//! The small glob dialect used by policy and suppression files: `*` matches any run of
//! characters (also none), `?` exactly one; everything else is literal and case-sensitive.

/// True when `text` matches `pattern` as a whole.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                backtrack = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    pi = star + 1;
                    ti = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_whole_strings() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("sg-*", "sg-0123", true),
            ("sg-*", "xsg-0123", false),
            ("*-sandbox-*", "acme-sandbox-01", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("exact", "exact", true),
            ("exact", "Exact", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(glob_match(pattern, text), want, "{pattern} vs {text}");
        }
    }
}
