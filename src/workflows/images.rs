//! Image files written by the workflows: sample grids (PNG), denoising trajectories (GIF or a
//! PNG strip), and the same layouts as [`ImageGrid`]s for inline display in notebooks
//! ([`sample_grid`], [`trajectory_grid`]). Pixels in $[-1, 1]$ map to bytes with
//! `round((x + 1) * 127.5)`, the inverse of the data layer's scaling.

use std::path::Path;

use image::{GrayImage, Luma};

use crate::figures::{FigureError, ImageGrid};

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
    grid_image(
        &strip_order(frames, count, size),
        count * columns,
        size,
        columns,
        2,
    )
}

/// The images of `frames` reordered image by image: image 0 at every step, then image 1 at
/// every step, ... (the row-major order of a strip with one row per image).
fn strip_order(frames: &[Vec<f32>], count: usize, size: usize) -> Vec<f32> {
    let n = size * size;
    let mut pixels = Vec::with_capacity(count * frames.len() * n);
    for k in 0..count {
        for frame in frames {
            pixels.extend_from_slice(&frame[k * n..(k + 1) * n]);
        }
    }
    pixels
}

/// The grid that [`save_grid`] writes, as an [`ImageGrid`] (which shows itself inline in an
/// evcxr notebook): `count` square images of side `size` (`pixels` is `[count, size * size]`
/// row-major with values in $[-1, 1]$, e.g. [`Samples::images`](super::sample::Samples)),
/// `cols` per row, each pixel enlarged 2x2. Pixels become bytes with [`to_byte`], exactly as
/// in the PNG files: $-1$ is black, $+1$ white, values outside are clamped.
///
/// # Errors
/// [`FigureError::NotFinite`] for a NaN or infinite pixel (a diverged sampler should not
/// look like a black image); [`FigureError::BufferSize`] if `pixels.len()` is not
/// `count * size * size`; [`FigureError::Zero`] if `count`, `size` or `cols` is 0.
pub fn sample_grid(
    pixels: &[f32],
    count: usize,
    size: usize,
    cols: usize,
) -> Result<ImageGrid, FigureError> {
    if let Some((index, &value)) = pixels.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(FigureError::NotFinite {
            what: "sample pixels".into(),
            index,
            value: f64::from(value),
        });
    }
    let bytes: Vec<u8> = pixels.iter().map(|&x| to_byte(x)).collect();
    ImageGrid::from_u8(&bytes, count, size, size)?
        .with_cols(cols)?
        .with_scale(2)
}

/// The strip that [`trajectory_strip`] draws, as an [`ImageGrid`] for inline display: one
/// row per image, one column per recorded step (`frames[j]` is `[count, size * size]` at
/// step $j$, e.g. [`Samples::frames`](super::sample::Samples), so $x_T$ is on the left and
/// the last snapshot on the right). Pixels as in [`sample_grid`].
///
/// # Errors
/// [`FigureError::Empty`] with no frames; [`FigureError::BufferSize`] if a frame does not
/// hold `count * size * size` values; otherwise as [`sample_grid`].
pub fn trajectory_grid(
    frames: &[Vec<f32>],
    count: usize,
    size: usize,
) -> Result<ImageGrid, FigureError> {
    if frames.is_empty() {
        return Err(FigureError::Empty {
            what: "the trajectory",
            item: "frame",
        });
    }
    let expected = count * size * size;
    if let Some(frame) = frames.iter().find(|f| f.len() != expected) {
        return Err(FigureError::BufferSize {
            got: frame.len(),
            expected,
            count,
            height: size,
            width: size,
        });
    }
    sample_grid(
        &strip_order(frames, count, size),
        count * frames.len(),
        size,
        frames.len(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 2x2 "images" with distinct values, as a sampler would return them.
    fn two_images() -> Vec<f32> {
        vec![-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, -3.0, 0.25]
    }

    #[test]
    fn sample_grid_uses_the_same_bytes_as_the_png_files() {
        let pixels = two_images();
        let grid = sample_grid(&pixels, 2, 2, 2).unwrap();
        assert_eq!((grid.count(), grid.cols(), grid.rows()), (2, 2, 1));
        // Scale 2 and a 1-pixel gap: 2 cells of 4x4 plus 3 gaps across, 1 cell plus 2 down.
        assert_eq!(grid.pixel_size(), (2 * 4 + 3, 4 + 2));
        let (luma, w, _) = grid.to_luma();
        // The top-left output pixel of each cell is the image's first pixel; the pixel two to
        // the right (after the 2x enlargement) is its second. Bytes by hand from
        // round((x + 1) * 127.5) with x clamped to [-1, 1]:
        // -1 -> 0, -0.5 -> 64 (63.75), 1 and 2 -> 255.
        assert_eq!(luma[w + 1], 0);
        assert_eq!(luma[w + 3], 64);
        assert_eq!(luma[w + 6], 255);
        assert_eq!(luma[w + 8], 255);
        // And the same map as the PNG grid written by `save_grid`.
        for &x in &pixels {
            assert_eq!(
                to_byte(x),
                ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
            );
        }
    }

    #[test]
    fn sample_grid_refuses_nan_and_wrong_sizes() {
        let mut pixels = two_images();
        assert!(matches!(
            sample_grid(&pixels, 3, 2, 2),
            Err(FigureError::BufferSize {
                got: 8,
                expected: 12,
                ..
            })
        ));
        assert!(matches!(
            sample_grid(&pixels, 2, 2, 0),
            Err(FigureError::Zero { what: "cols" })
        ));
        pixels[5] = f32::NAN;
        assert!(matches!(
            sample_grid(&pixels, 2, 2, 2),
            Err(FigureError::NotFinite { index: 5, .. })
        ));
    }

    #[test]
    fn trajectory_grid_has_one_row_per_image_and_one_column_per_step() {
        // Two 1x1 images over three steps: image k at step j has value (10k + j) / 100, so
        // every cell of the strip is distinguishable.
        let frames: Vec<Vec<f32>> = (0..3)
            .map(|j| (0..2).map(|k| (10 * k + j) as f32 / 100.0).collect())
            .collect();
        let grid = trajectory_grid(&frames, 2, 1).unwrap();
        assert_eq!((grid.count(), grid.cols(), grid.rows()), (6, 3, 2));
        let (luma, w, _) = grid.to_luma();
        // Cell (row k, column j) starts at (1 + 3j, 1 + 3k): 2x2 pixels plus a 1-pixel gap.
        for k in 0..2 {
            for j in 0..3 {
                let x = (10 * k + j) as f32 / 100.0;
                assert_eq!(
                    luma[(1 + 3 * k) * w + 1 + 3 * j],
                    to_byte(x),
                    "image {k}, step {j}"
                );
            }
        }
        // The PNG strip has the same layout (a 2-pixel border instead of 1).
        let strip = trajectory_strip(&frames, 2, 1);
        assert_eq!(strip.get_pixel(2 + 4 * 2, 2 + 4).0[0], to_byte(0.12));
    }

    #[test]
    fn trajectory_grid_refuses_no_frames_and_short_frames() {
        assert!(matches!(
            trajectory_grid(&[], 2, 1),
            Err(FigureError::Empty { .. })
        ));
        assert!(matches!(
            trajectory_grid(&[vec![0.0; 2], vec![0.0; 1]], 2, 1),
            Err(FigureError::BufferSize {
                got: 1,
                expected: 2,
                ..
            })
        ));
    }
}
