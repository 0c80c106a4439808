//! Tests of the figures layer: the base64 encoder (RFC 4648 vectors), ImageGrid layout and
//! determinism, and LineChart validation.

use ddpm::figures::{FigureError, ImageGrid, LineChart, Series, base64_encode};

#[test]
fn base64_matches_rfc4648_test_vectors() {
    // RFC 4648, section 10.
    for (input, expected) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64_encode(input.as_bytes()), expected, "input {input:?}");
    }
    // All 6-bit values appear: bytes 0x00 0x10 0x83 0x10 0x51 0x87 ... encode to "ABCDEFGH".
    assert_eq!(
        base64_encode(&[0x00, 0x10, 0x83, 0x10, 0x51, 0x87]),
        "ABCDEFGH"
    );
    assert_eq!(base64_encode(&[0xfb, 0xff, 0xbf]), "+/+/");
}

#[test]
fn image_grid_places_each_image_in_its_cell() {
    // Three 2x3 images with distinct constant values, 2 columns, scale 2, gap 1.
    let mut pixels = Vec::new();
    for v in [10u8, 20, 30] {
        pixels.extend(std::iter::repeat_n(v, 6));
    }
    let grid = ImageGrid::from_u8(&pixels, 3, 2, 3)
        .unwrap()
        .with_cols(2)
        .unwrap()
        .with_scale(2)
        .unwrap();
    assert_eq!((grid.rows(), grid.cols()), (2, 2));
    let (luma, w, h) = grid.to_luma();
    // Width: 2 cells of 3*2 pixels + 3 gaps; height: 2 cells of 2*2 + 3 gaps.
    assert_eq!((w, h), (15, 11));
    let at = |x: usize, y: usize| luma[y * w + x];
    assert_eq!(at(1, 1), 10); // first cell starts after a 1-pixel gap
    assert_eq!(at(6, 4), 10); // last pixel of the first cell
    assert_eq!(at(8, 1), 20); // second cell: x0 = 1 + 6 + 1
    assert_eq!(at(1, 6), 30); // third cell: second row, y0 = 1 + 4 + 1
    assert_eq!(at(0, 0), 64); // background (gap)
    assert_eq!(at(8, 6), 64); // the empty fourth cell
}

#[test]
fn image_grid_from_unit_clamps_and_rounds() {
    let grid = ImageGrid::from_unit(&[-0.5_f64, 0.0, 0.5, 1.0, 2.0, 0.2], 1, 2, 3)
        .unwrap()
        .with_gap(0);
    let (luma, w, h) = grid.to_luma();
    assert_eq!((w, h), (3, 2));
    assert_eq!(luma, vec![0, 0, 128, 255, 255, 51]);
}

#[test]
fn image_grid_rejects_bad_input() {
    assert!(matches!(
        ImageGrid::from_u8(&[0; 5], 1, 2, 3),
        Err(FigureError::BufferSize {
            got: 5,
            expected: 6,
            ..
        })
    ));
    assert!(matches!(
        ImageGrid::from_u8(&[], 0, 2, 3),
        Err(FigureError::Zero { what: "count" })
    ));
    assert!(matches!(
        ImageGrid::from_unit(&[f32::NAN], 1, 1, 1),
        Err(FigureError::NotFinite { index: 0, .. })
    ));
    let grid = ImageGrid::from_u8(&[0], 1, 1, 1).unwrap();
    assert!(grid.clone().with_cols(0).is_err());
    assert!(grid.with_scale(0).is_err());
}

#[test]
fn image_grid_png_is_deterministic_and_decodes_to_the_same_pixels() {
    let pixels: Vec<u8> = (0..4 * 28 * 28).map(|i| (i * 7 % 256) as u8).collect();
    let grid = ImageGrid::from_u8(&pixels, 4, 28, 28)
        .unwrap()
        .with_cols(2)
        .unwrap()
        .with_scale(3)
        .unwrap();
    let png = grid.png_bytes().unwrap();
    assert_eq!(png, grid.png_bytes().unwrap());
    let decoded = image::load_from_memory(&png).unwrap().into_luma8();
    let (luma, w, h) = grid.to_luma();
    assert_eq!(
        (decoded.width() as usize, decoded.height() as usize),
        (w, h)
    );
    assert_eq!(decoded.into_raw(), luma);
}

#[test]
fn line_chart_rejects_bad_series_and_renders_deterministically() {
    let empty = LineChart::new("t", "x", "y");
    assert!(matches!(empty.svg_string(), Err(FigureError::Empty { .. })));
    let nan = LineChart::new("t", "x", "y").series(Series::line("a", vec![(0.0, f64::NAN)]));
    assert!(matches!(
        nan.png_bytes(),
        Err(FigureError::NotFinite { .. })
    ));
    let neg = LineChart::new("t", "x", "y")
        .log_log(true)
        .series(Series::line("a", vec![(1.0, 1.0), (2.0, -1.0)]));
    assert!(matches!(
        neg.svg_string(),
        Err(FigureError::NotPositiveOnLogAxis { .. })
    ));
    let ok = LineChart::new("t", "K", "error")
        .log_log(true)
        .series(Series::points(
            "a",
            vec![(10.0, 0.3), (100.0, 0.1), (1000.0, 0.03)],
        ))
        .series(Series::dashed("b", vec![(10.0, 0.3), (1000.0, 0.03)]));
    assert_eq!(ok.svg_string().unwrap(), ok.svg_string().unwrap());
    assert_eq!(ok.png_bytes().unwrap(), ok.png_bytes().unwrap());
}

#[test]
fn image_grid_from_array_and_gif_animation() {
    let frames: Vec<ImageGrid> = (0..3)
        .map(|k| {
            let a = ddpm::ndarray::Array3::from_shape_fn((2, 4, 4), |(n, y, x)| {
                ((n + y + x + k) % 4) as f32 / 3.0
            });
            ImageGrid::from_unit_array(a.view()).unwrap()
        })
        .collect();
    assert_eq!(frames[0].count(), 2);
    let gif = ImageGrid::gif_bytes(&frames, 100).unwrap();
    assert_eq!(gif, ImageGrid::gif_bytes(&frames, 100).unwrap()); // deterministic
    assert!(gif.starts_with(b"GIF89a"));
    // Decode it back: three frames of the grid's size, first frame's pixels preserved.
    use image::AnimationDecoder;
    let decoded = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&gif))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(decoded.len(), 3);
    let (luma, w, h) = frames[0].to_luma();
    let buffer = decoded[0].buffer();
    assert_eq!((buffer.width() as usize, buffer.height() as usize), (w, h));
    for (i, px) in buffer.pixels().enumerate() {
        assert!(
            (i32::from(px[0]) - i32::from(luma[i])).abs() <= 2,
            "pixel {i}"
        );
    }
    assert!(ImageGrid::gif_bytes(&[], 100).is_err());
}

#[test]
fn part1_book_figures_are_deterministic_and_match_the_committed_ones() {
    // Render into a scratch folder and compare with chapters/figures/, byte for byte. If this
    // fails after a deliberate change, re-render with
    // `cargo run --no-default-features --bin ddpm -- book-figures --out chapters/figures`.
    let dir = std::env::temp_dir().join(format!("ddpm-part1-figures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let written = ddpm::book_figures::part1::render(&dir).unwrap();
    assert_eq!(written.len(), 10);
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("chapters/figures");
    for path in &written {
        let name = path.file_name().unwrap();
        let fresh = std::fs::read(path).unwrap();
        let stored = std::fs::read(committed.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", name.to_string_lossy()));
        assert!(
            fresh == stored,
            "{} differs from the committed figure",
            name.to_string_lossy()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
