//! What every exercise grader (`tests/exercises_chNN.rs`) shares: the rule that an exercise
//! file is self-contained.
//!
//! The student's file (`src/exercises/chNN.rs`) is compiled into its chapter's grader alone,
//! not into the library, so that a stub that does not compile costs that chapter only. It may
//! use the standard library and the crates the book's code uses (`ndarray`, `rand`,
//! `rand_chacha`, `rand_distr`, and `burn` for the tensor exercises), but not this crate: the
//! library computes most answers (`ddim_timesteps`, `histogram_entropy`, ...), so calling it
//! would pass a grader without doing the exercise. Nor may it pull library source in with
//! `include!` or `#[path]`. The check reads the file's code with comments and string literals
//! removed.

/// `Err` naming the first forbidden construct in `source` (an exercise file's text), or `Ok`.
pub fn self_contained(source: &str) -> Result<(), String> {
    let code = strip_comments_and_strings(source);
    let words = |needle: &str| {
        code.match_indices(needle).any(|(i, _)| {
            let before = code[..i].chars().next_back();
            let after = code[i + needle.len()..].chars().next();
            let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !ident(before) && !ident(after)
        })
    };
    if words("ddpm") {
        return Err(
            "it uses the `ddpm` crate; exercise files may use std, ndarray, rand, \
                    rand_chacha, rand_distr and burn only (write the computation yourself)"
                .into(),
        );
    }
    for m in ["include", "include_str", "include_bytes"] {
        if code.contains(&format!("{m}!")) && words(m) {
            return Err(format!(
                "it uses `{m}!`, which could paste in the library's code"
            ));
        }
    }
    let squeezed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if squeezed.contains("#[path") || squeezed.contains(",path=") {
        return Err("it uses a `#[path]` attribute, which could load the library's code".into());
    }
    Ok(())
}

/// Panics with the reason when `source` (the exercise file of `chapter`) is not self-contained.
pub fn assert_self_contained(chapter: &str, source: &str) {
    if let Err(why) = self_contained(source) {
        panic!("src/exercises/{chapter}.rs is not graded: {why}");
    }
}

/// `source` with `//` and `/* */` comments and string literals (plain and raw) replaced by
/// spaces. Char literals are kept (a `'"'` is read as one), which is all exercise code needs.
fn strip_comments_and_strings(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == '\'' && next == Some('"') && chars.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) {
            // A raw string r"..." or r#"..."#: skip to the quote followed by as many #.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push(' ');
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The rule bites on each way of reaching the library, and not on comments, strings or
/// look-alike names (this test runs in every grader; it takes microseconds).
#[test]
fn self_containment_rule() {
    for bad in [
        "use ddpm::probability::Grid;",
        "fn f() -> f64 { ::ddpm::diffusion::bound::nats_to_bits(1.0) }",
        "extern crate ddpm as d;",
        "include!(\"../../src/metrics.rs\");",
        "const S: &str = include_str!(\"x\");",
        "#[path = \"../../src/metrics.rs\"] mod m;",
        "#[cfg_attr(all(), path = \"../../src/metrics.rs\")] mod m;",
    ] {
        assert!(self_contained(bad).is_err(), "accepted: {bad}");
    }
    for good in [
        "// see ddpm::diffusion::bound, and /* ddpm:: */ too\nfn f() {}",
        "fn f() -> &'static str { \"ddpm::x, include!(y), #[path]\" }",
        "fn f() -> &'static str { r#\"ddpm\"# }",
        "fn ddpm_like(c: char) -> bool { c == '\"' }",
        "use rand::Rng;\nfn g() { let path = 3; let _ = path; }",
    ] {
        assert_eq!(self_contained(good), Ok(()), "refused: {good}");
    }
}
