//! Image files written by the workflows: sample grids (PNG), denoising trajectories (GIF or a
//! PNG strip). Pixels in $[-1, 1]$ map to bytes with `round((x + 1) * 127.5)`, the inverse of
//! the data layer's scaling.

use std::path::Path;

use image::{GrayImage, Luma};

/// Errors writing images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Encoding or writing failed.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// A value in $[-1, 1]$ as a byte (clamped).
pub fn to_byte(x: f32) -> u8 {
    ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Lays out `count` square single-channel images of side `size` (`pixels` is
/// `[count, size * size]` row-major, values in $[-1, 1]$) in a grid `cols` wide with a
/// 2-pixel border, scaled up `scale` times.
pub fn grid_image(pixels: &[f32], count: usize, size: usize, cols: usize, scale: u32) -> GrayImage {
    let cols = cols.max(1).min(count.max(1));
    let rows = count.div_ceil(cols);
    let pad = 2u32;
    let cell = size as u32 * scale + pad;
    let mut img = GrayImage::from_pixel(
        cols as u32 * cell + pad,
        rows as u32 * cell + pad,
        Luma([64]),
    );
    for k in 0..count {
        let (r, c) = ((k / cols) as u32, (k % cols) as u32);
        for y in 0..size {
            for x in 0..size {
                let v = to_byte(pixels[k * size * size + y * size + x]);
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.put_pixel(
                            pad + c * cell + x as u32 * scale + dx,
                            pad + r * cell + y as u32 * scale + dy,
                            Luma([v]),
                        );
                    }
                }
            }
        }
    }
    img
}

/// Writes a grid PNG (see [`grid_image`]), roughly square.
///
/// # Errors
/// [`ImageError`] when the file cannot be written.
pub fn save_grid(path: &Path, pixels: &[f32], count: usize, size: usize) -> Result<(), ImageError> {
    let cols = (count as f64).sqrt().ceil() as usize;
    save_png(path, &grid_image(pixels, count, size, cols, 2))
}

/// Writes a PNG atomically.
///
/// # Errors
/// [`ImageError`] when encoding or writing fails.
pub fn save_png(path: &Path, img: &GrayImage) -> Result<(), ImageError> {
    let err = |e: &dyn std::fmt::Display| ImageError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| err(&e))?;
    super::write_atomic(path, &bytes).map_err(|e| err(&e))
}

/// A strip: one row per image, one column per recorded step (`frames[j]` is
/// `[count, size * size]` at step j).
pub fn trajectory_strip(frames: &[Vec<f32>], count: usize, size: usize) -> GrayImage {
    let columns = frames.len();
    let mut pixels = Vec::with_capacity(count * columns * size * size);
    for k in 0..count {
        for frame in frames {
            pixels.extend_from_slice(&frame[k * size * size..(k + 1) * size * size]);
        }
    }
    grid_image(&pixels, count * columns, size, columns, 2)
}

/// Writes an animated GIF, one grid per recorded step, the last frame held for 2 s.
///
/// # Errors
/// [`ImageError`] when encoding or writing fails.
pub fn save_trajectory_gif(
    path: &Path,
    frames: &[Vec<f32>],
    count: usize,
    size: usize,
) -> Result<(), ImageError> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame, RgbaImage};
    let err = |e: &dyn std::fmt::Display| ImageError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let cols = (count as f64).sqrt().ceil() as usize;
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        encoder.set_repeat(Repeat::Infinite).map_err(|e| err(&e))?;
        for (j, frame) in frames.iter().enumerate() {
            let gray = grid_image(frame, count, size, cols, 2);
            let rgba = RgbaImage::from_fn(gray.width(), gray.height(), |x, y| {
                let v = gray.get_pixel(x, y)[0];
                image::Rgba([v, v, v, 255])
            });
            let ms = if j + 1 == frames.len() { 2000 } else { 80 };
            encoder
                .encode_frame(Frame::from_parts(
                    rgba,
                    0,
                    0,
                    Delay::from_numer_denom_ms(ms, 1),
                ))
                .map_err(|e| err(&e))?;
        }
    }
    super::write_atomic(path, &bytes).map_err(|e| err(&e))
}
