//! Expands mdBook `{{#include path:anchor}}` lines in `chapters/*.md` into `$OUT_DIR/chapters/`,
//! so that rustdoc (which attaches each chapter to a doc-only module in `src/lib.rs`) sees the
//! same code listings as mdBook. Included listings are fenced `rust,ignore` in the chapters:
//! cargo compiles them where they live; doctested blocks are the chapters' own.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("chapters");
    fs::create_dir_all(&out).unwrap();
    let chapters = manifest.join("chapters");
    println!("cargo:rerun-if-changed=chapters");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=examples");
    for entry in fs::read_dir(&chapters).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = fs::read_to_string(&path).unwrap();
            let expanded =
                expand(&text, &chapters).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fs::write(out.join(path.file_name().unwrap()), expanded).unwrap();
        }
    }
}

/// Replaces each `{{#include FILE}}` / `{{#include FILE:ANCHOR}}` with the text it names,
/// dropping `ANCHOR:`/`ANCHOR_END:` marker lines the way mdBook does.
fn expand(text: &str, base: &Path) -> Result<String, String> {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{#include ") {
        result.push_str(&rest[..start]);
        let after = &rest[start + "{{#include ".len()..];
        let end = after.find("}}").ok_or("unterminated {{#include")?;
        let spec = after[..end].trim();
        let (file, anchor) = match spec.rsplit_once(':') {
            Some((f, a)) if !a.contains('/') && !a.chars().all(|c| c.is_ascii_digit()) => {
                (f, Some(a))
            }
            _ => (spec, None),
        };
        let source = fs::read_to_string(base.join(file))
            .map_err(|e| format!("cannot include {file}: {e}"))?;
        result.push_str(
            &select(&source, anchor).ok_or(format!("anchor {anchor:?} not found in {file}"))?,
        );
        rest = &after[end + 2..];
    }
    result.push_str(rest);
    Ok(result)
}

fn select(source: &str, anchor: Option<&str>) -> Option<String> {
    let is_marker = |l: &str| l.contains("ANCHOR:") || l.contains("ANCHOR_END:");
    let mut lines: Vec<&str> = Vec::new();
    match anchor {
        None => lines.extend(source.lines().filter(|l| !is_marker(l))),
        Some(a) => {
            let mut inside = false;
            let mut found = false;
            for line in source.lines() {
                if line.contains(&format!("ANCHOR_END: {a}")) {
                    inside = false;
                } else if line.contains(&format!("ANCHOR: {a}")) {
                    inside = true;
                    found = true;
                } else if inside && !is_marker(line) {
                    lines.push(line);
                }
            }
            if !found {
                return None;
            }
            // Remove the common indentation, as mdBook does.
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            lines = lines
                .iter()
                .map(|l| {
                    if l.len() >= indent {
                        &l[indent..]
                    } else {
                        l.trim_start()
                    }
                })
                .collect();
        }
    }
    Some(lines.join("\n"))
}
