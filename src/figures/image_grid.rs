//! A grid of grayscale images (MNIST digits, denoising steps), written as PNG or shown inline
//! in an evcxr notebook.

use std::path::Path;

use super::{FigureError, encode_png, evcxr_print_png, write_file};

/// A `rows x cols` grid of equally sized grayscale images, drawn on a dark gray background
/// with a gap between cells, each pixel enlarged `scale` times (nearest neighbour).
///
/// Build it from `u8` pixels ([`ImageGrid::from_u8`]) or from values in $[0, 1]$
/// ([`ImageGrid::from_unit`]; `f32` or `f64`, clamped). Images are row-major, one after
/// another in a flat buffer (the layout of an `[n, height, width]` tensor); they fill the grid
/// row by row, and the last row may be partly empty.
///
/// ```
/// use ddpm::figures::ImageGrid;
/// // Two 2x2 images: a black one and a white one, side by side, each pixel 3x3.
/// let pixels = [0.0_f32, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
/// let grid = ImageGrid::from_unit(&pixels, 2, 2, 2).unwrap().with_cols(2).unwrap().with_scale(3).unwrap();
/// assert_eq!(grid.rows(), 1);
/// let (w, h) = grid.pixel_size();
/// assert_eq!((w, h), (2 * 2 * 3 + 3 * 1, 2 * 3 + 2 * 1)); // cells plus 1-pixel gaps
/// assert!(grid.png_bytes().unwrap().starts_with(b"\x89PNG"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGrid {
    pixels: Vec<u8>,
    count: usize,
    height: usize,
    width: usize,
    cols: usize,
    scale: usize,
    gap: usize,
}

impl ImageGrid {
    /// A grid of `count` images of `height x width` pixels from 8-bit values (0 = black),
    /// laid out in one row up to 8 images wide (change with [`ImageGrid::with_cols`]).
    ///
    /// # Errors
    /// [`FigureError::Zero`] if `count`, `height` or `width` is 0;
    /// [`FigureError::BufferSize`] if `pixels.len() != count * height * width`.
    pub fn from_u8(
        pixels: &[u8],
        count: usize,
        height: usize,
        width: usize,
    ) -> Result<Self, FigureError> {
        for (what, v) in [("count", count), ("height", height), ("width", width)] {
            if v == 0 {
                return Err(FigureError::Zero { what });
            }
        }
        let expected = count * height * width;
        if pixels.len() != expected {
            return Err(FigureError::BufferSize {
                got: pixels.len(),
                expected,
                count,
                height,
                width,
            });
        }
        Ok(Self {
            pixels: pixels.to_vec(),
            count,
            height,
            width,
            cols: count.min(8),
            scale: 1,
            gap: 1,
        })
    }

    /// Like [`ImageGrid::from_u8`] from values in $[0, 1]$ (0 = black, 1 = white); values
    /// outside are clamped, then mapped to `round(255 v)`. Accepts `f32`, `f64` or anything
    /// that converts to `f64`.
    ///
    /// # Errors
    /// As [`ImageGrid::from_u8`], and [`FigureError::NotFinite`] for a NaN or infinite value.
    pub fn from_unit<T: Copy + Into<f64>>(
        values: &[T],
        count: usize,
        height: usize,
        width: usize,
    ) -> Result<Self, FigureError> {
        let mut pixels = Vec::with_capacity(values.len());
        for (index, &v) in values.iter().enumerate() {
            let v: f64 = v.into();
            if !v.is_finite() {
                return Err(FigureError::NotFinite {
                    what: "image values".into(),
                    index,
                    value: v,
                });
            }
            pixels.push((v.clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        Self::from_u8(&pixels, count, height, width)
    }

    /// Like [`ImageGrid::from_unit`] from an `[n, height, width]` array (e.g. a batch of
    /// samples converted from a tensor).
    ///
    /// # Errors
    /// As [`ImageGrid::from_unit`].
    pub fn from_unit_array<T: Copy + Into<f64>>(
        images: ndarray::ArrayView3<'_, T>,
    ) -> Result<Self, FigureError> {
        let (count, height, width) = images.dim();
        let values: Vec<T> = images.iter().copied().collect();
        Self::from_unit(&values, count, height, width)
    }

    /// Sets the number of columns (the number of rows follows).
    ///
    /// # Errors
    /// [`FigureError::Zero`] if `cols` is 0.
    pub fn with_cols(mut self, cols: usize) -> Result<Self, FigureError> {
        if cols == 0 {
            return Err(FigureError::Zero { what: "cols" });
        }
        self.cols = cols;
        Ok(self)
    }

    /// Enlarges every pixel to `scale x scale` (nearest neighbour), e.g. 4 for 28x28 digits.
    ///
    /// # Errors
    /// [`FigureError::Zero`] if `scale` is 0.
    pub fn with_scale(mut self, scale: usize) -> Result<Self, FigureError> {
        if scale == 0 {
            return Err(FigureError::Zero { what: "scale" });
        }
        self.scale = scale;
        Ok(self)
    }

    /// Sets the gap between cells in output pixels (default 1; 0 for none).
    pub fn with_gap(mut self, gap: usize) -> Self {
        self.gap = gap;
        self
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of rows, `ceil(count / cols)`.
    pub fn rows(&self) -> usize {
        self.count.div_ceil(self.cols)
    }

    /// Output size `(width, height)` in pixels, gaps included.
    pub fn pixel_size(&self) -> (usize, usize) {
        let cols = self.cols.min(self.count);
        let rows = self.rows();
        (
            cols * self.width * self.scale + (cols + 1) * self.gap,
            rows * self.height * self.scale + (rows + 1) * self.gap,
        )
    }

    /// The grid as 8-bit grayscale pixels, row-major, with its `(width, height)`.
    pub fn to_luma(&self) -> (Vec<u8>, usize, usize) {
        const BACKGROUND: u8 = 64;
        let (w, h) = self.pixel_size();
        let mut out = vec![BACKGROUND; w * h];
        let cell_w = self.width * self.scale;
        let cell_h = self.height * self.scale;
        for k in 0..self.count {
            let (r, c) = (k / self.cols, k % self.cols);
            let x0 = self.gap + c * (cell_w + self.gap);
            let y0 = self.gap + r * (cell_h + self.gap);
            let image = &self.pixels[k * self.height * self.width..][..self.height * self.width];
            for y in 0..cell_h {
                for x in 0..cell_w {
                    let v = image[(y / self.scale) * self.width + x / self.scale];
                    out[(y0 + y) * w + x0 + x] = v;
                }
            }
        }
        (out, w, h)
    }

    /// The grid encoded as PNG (8-bit grayscale).
    ///
    /// # Errors
    /// [`FigureError::Encode`] if encoding fails.
    pub fn png_bytes(&self) -> Result<Vec<u8>, FigureError> {
        let (luma, w, h) = self.to_luma();
        encode_png(&luma, w as u32, h as u32, image::ExtendedColorType::L8)
    }

    /// Writes the grid as a PNG file (creating parent folders).
    ///
    /// # Errors
    /// [`FigureError::Encode`] or [`FigureError::Io`].
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<(), FigureError> {
        write_file(path.as_ref(), &self.png_bytes()?)
    }

    /// Writes `frames` (e.g. one grid per denoising step) as a looping animated GIF, each
    /// frame shown for `delay_ms` milliseconds. All frames must have the same pixel size.
    ///
    /// # Errors
    /// [`FigureError::Empty`] with no frames, [`FigureError::BufferSize`] if the frames differ
    /// in size, [`FigureError::Encode`] or [`FigureError::Io`].
    pub fn write_gif(
        frames: &[ImageGrid],
        delay_ms: u32,
        path: impl AsRef<Path>,
    ) -> Result<(), FigureError> {
        write_file(path.as_ref(), &Self::gif_bytes(frames, delay_ms)?)
    }

    /// The bytes [`ImageGrid::write_gif`] writes.
    ///
    /// # Errors
    /// As [`ImageGrid::write_gif`], without the I/O.
    pub fn gif_bytes(frames: &[ImageGrid], delay_ms: u32) -> Result<Vec<u8>, FigureError> {
        use image::codecs::gif::{GifEncoder, Repeat};
        let first = frames.first().ok_or(FigureError::Empty {
            what: "GIF animation",
            item: "frame",
        })?;
        let (w, h) = first.pixel_size();
        let mut out = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut out);
            encoder.set_repeat(Repeat::Infinite)?;
            for (i, frame) in frames.iter().enumerate() {
                let (luma, fw, fh) = frame.to_luma();
                if (fw, fh) != (w, h) {
                    return Err(FigureError::BufferSize {
                        got: fw * fh,
                        expected: w * h,
                        count: i,
                        height: fh,
                        width: fw,
                    });
                }
                let rgba: Vec<u8> = luma.iter().flat_map(|&v| [v, v, v, 255]).collect();
                let buffer = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
                    .expect("buffer length is 4 * width * height by construction");
                let delay = image::Delay::from_numer_denom_ms(delay_ms, 1);
                encoder.encode_frame(image::Frame::from_parts(buffer, 0, 0, delay))?;
            }
        }
        Ok(out)
    }

    /// Shows the grid inline in an evcxr (Jupyter) notebook: prints
    /// `EVCXR_BEGIN_CONTENT image/png`, the PNG in base64, and `EVCXR_END_CONTENT`.
    pub fn evcxr_display(&self) {
        match self.png_bytes() {
            Ok(png) => evcxr_print_png(&png),
            Err(e) => println!("ImageGrid: {e}"),
        }
    }
}
