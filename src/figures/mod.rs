//! Plotting helpers and image grids (PNG/SVG/GIF, evcxr display). Draws, never computes the math.
//!
//! plotters normally finds fonts through the operating system; this crate bundles DejaVu Sans
//! (`assets/fonts/DejaVuSans.ttf`, Bitstream Vera / DejaVu licence) and registers it with
//! plotters' `ab_glyph` feature, so figures render identically on any machine.

use std::sync::Once;

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
