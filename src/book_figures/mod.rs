//! Renders every figure the book shows from the crate's own code, into `chapters/figures/` with
//! `ddpm book-figures --out chapters/figures` (without `--out`, into `runs/book-figures/`, so
//! that a trial run never overwrites the book's files). The check command re-renders them into a scratch folder and verifies
//! the bytes match, so a figure in the book is always what the code draws.
//!
//! One submodule per part of the book; each has `render(dir) -> Result<Vec<PathBuf>>`.

use std::path::{Path, PathBuf};

pub mod part1;
pub mod part2;

/// Renders all book figures into `dir`, returning the paths written.
///
/// # Errors
/// Fails if `dir` cannot be created or a figure cannot be drawn or written.
pub fn render_all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = part1::render(dir)?;
    written.extend(part2::render(dir)?);
    Ok(written)
}
