//! Plotting helpers and image grids (PNG/SVG, evcxr display). Draws, never computes the math.
//!
//! plotters normally finds fonts through the operating system; this crate bundles DejaVu Sans
//! (`assets/fonts/DejaVuSans.ttf`, Bitstream Vera / DejaVu licence) and registers it with
//! plotters' `ab_glyph` feature, so figures render identically on any machine.
//!
//! - [`LineChart`]: several named series on linear or log-log axes, written as PNG and SVG.
//! - [`ImageGrid`]: a rows x cols grid of grayscale images (e.g. MNIST digits), written as PNG
//!   and shown inline in an evcxr notebook.
//! - [`base64_encode`]: the small encoder the evcxr display protocol needs.
//!
//! Every output is a pure function of its inputs (no timestamps, no system fonts), so the
//! check command can re-render the book's figures and compare bytes.

use std::sync::Once;

use thiserror::Error;

mod base64;
mod image_grid;
mod line_chart;

pub use base64::base64_encode;
pub use image_grid::ImageGrid;
pub use line_chart::{LegendPosition, LineChart, Series, SeriesStyle};

/// The bundled font's bytes (DejaVu Sans, from Debian's `fonts-dejavu-core`).
pub const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font as plotters' `"sans-serif"` family. Call before drawing text;
/// calling it more than once is cheap.
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped with the crate; failure would be a
        // packaging bug, not a user error.
        if plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            FONT_BYTES,
        )
        .is_err()
        {
            panic!("the bundled font assets/fonts/DejaVuSans.ttf is not a valid TrueType font");
        }
    });
}

/// Why a figure could not be built, drawn or written.
#[derive(Debug, Error)]
pub enum FigureError {
    /// The figure was given nothing to draw.
    #[error("{what} is empty; give it at least one {item}")]
    Empty {
        /// What was empty.
        what: &'static str,
        /// What it needs at least one of.
        item: &'static str,
    },
    /// A pixel buffer's length does not match `count * height * width`.
    #[error(
        "pixel buffer has {got} values but {count} images of {height}x{width} need {expected}; check the image size and count"
    )]
    BufferSize {
        /// Values supplied.
        got: usize,
        /// Values needed.
        expected: usize,
        /// Number of images.
        count: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// A value that must be finite was not (NaN or infinite).
    #[error("{what} contains a non-finite value ({value}) at index {index}; remove NaN/inf first")]
    NotFinite {
        /// Which input.
        what: String,
        /// Where.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A size or scale was zero.
    #[error("{what} must be at least 1, got 0")]
    Zero {
        /// Which size.
        what: &'static str,
    },
    /// A log axis was asked to show a value that is not strictly positive.
    #[error(
        "series {series:?} has value {value} on a log axis; log axes need values > 0 (drop the point or use linear axes)"
    )]
    NotPositiveOnLogAxis {
        /// Series name.
        series: String,
        /// The value.
        value: f64,
    },
    /// plotters reported a drawing error.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] image::ImageError),
    /// Writing the file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Writes `bytes` to `path`, creating parent folders.
pub(crate) fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), FigureError> {
    let io = |source| FigureError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}

/// Encodes an 8-bit RGB buffer as PNG bytes (deterministic: no metadata, fixed settings).
pub(crate) fn encode_png_rgb(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, FigureError> {
    encode_png(rgb, width, height, image::ExtendedColorType::Rgb8)
}

pub(crate) fn encode_png(
    data: &[u8],
    width: u32,
    height: u32,
    color: image::ExtendedColorType,
) -> Result<Vec<u8>, FigureError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out).write_image(data, width, height, color)?;
    Ok(out)
}

/// Prints `png` in the evcxr display protocol, so a notebook cell shows it inline.
pub(crate) fn evcxr_print_png(png: &[u8]) {
    println!(
        "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT",
        base64_encode(png)
    );
}
