//! A line chart of several named series, on linear or log-log axes, written as PNG and SVG.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::{FigureError, encode_png_rgb, ensure_font, evcxr_print_png, write_file};

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    /// A solid line through the points.
    Line,
    /// A dashed line through the points.
    Dashed,
    /// A filled circle at each point, no line.
    Points,
}

/// One named series of `(x, y)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// The points, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// How to draw them.
    pub style: SeriesStyle,
}

impl Series {
    /// A solid line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            style: SeriesStyle::Line,
        }
    }
    /// A dashed line.
    pub fn dashed(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            style: SeriesStyle::Dashed,
        }
    }
    /// Points only.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            style: SeriesStyle::Points,
        }
    }
}

/// `((x_lo, x_hi), (y_lo, y_hi))`.
type AxisRanges = ((f64, f64), (f64, f64));

/// Where the legend box goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPosition {
    /// Top right corner (default).
    #[default]
    UpperRight,
    /// Top left corner.
    UpperLeft,
    /// Bottom right corner.
    LowerRight,
    /// Bottom left corner.
    LowerLeft,
    /// Bottom, centred.
    LowerMiddle,
}

/// The colours series get, in order (Okabe-Ito, readable by colour-blind readers).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// A chart of named series with a title, axis labels and optionally log-log axes.
///
/// ```
/// use ddpm::figures::{LineChart, Series};
/// let chart = LineChart::new("squares", "x", "x^2")
///     .series(Series::line("x^2", (1..=10).map(|i| (i as f64, (i * i) as f64)).collect()));
/// let svg = chart.svg_string().unwrap();
/// assert!(svg.starts_with("<svg"));
/// // Deterministic: drawing twice gives the same bytes.
/// assert_eq!(chart.png_bytes().unwrap(), chart.png_bytes().unwrap());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series>,
    log_log: bool,
    size: (u32, u32),
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    legend: LegendPosition,
}

impl LineChart {
    /// An empty chart, 800x500 pixels, linear axes.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            log_log: false,
            size: (800, 500),
            x_range: None,
            y_range: None,
            legend: LegendPosition::UpperRight,
        }
    }

    /// Adds a series.
    pub fn series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Uses logarithmic x and y axes.
    pub fn log_log(mut self, yes: bool) -> Self {
        self.log_log = yes;
        self
    }

    /// Sets the size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Moves the legend box.
    pub fn legend(mut self, position: LegendPosition) -> Self {
        self.legend = position;
        self
    }

    /// Fixes the x range (default: the data's range).
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// Fixes the y range (default: the data's range plus a 5% margin).
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Validates the series and returns the `(x, y)` ranges to draw.
    fn check(&self) -> Result<AxisRanges, FigureError> {
        if self.series.is_empty() || self.series.iter().all(|s| s.points.is_empty()) {
            return Err(FigureError::Empty {
                what: "line chart",
                item: "series with a point",
            });
        }
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for s in &self.series {
            for (index, &(x, y)) in s.points.iter().enumerate() {
                for v in [x, y] {
                    if !v.is_finite() {
                        return Err(FigureError::NotFinite {
                            what: format!("series {:?}", s.name),
                            index,
                            value: v,
                        });
                    }
                    if self.log_log && v <= 0.0 {
                        return Err(FigureError::NotPositiveOnLogAxis {
                            series: s.name.clone(),
                            value: v,
                        });
                    }
                }
                x_lo = x_lo.min(x);
                x_hi = x_hi.max(x);
                y_lo = y_lo.min(y);
                y_hi = y_hi.max(y);
            }
        }
        let widen = |lo: f64, hi: f64| {
            if self.log_log {
                (lo / 1.2, hi * 1.2)
            } else {
                let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
                (lo - pad, hi + pad)
            }
        };
        let x = self.x_range.unwrap_or(if x_hi > x_lo {
            (x_lo, x_hi)
        } else {
            widen(x_lo, x_hi)
        });
        let y = self.y_range.unwrap_or_else(|| widen(y_lo, y_hi));
        Ok((x, y))
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        let ((x0, x1), (y0, y1)) = self.check()?;
        ensure_font();
        if self.log_log {
            draw_axes(self, root, (x0..x1).log_scale(), (y0..y1).log_scale())
        } else {
            draw_axes(self, root, x0..x1, y0..y1)
        }
    }

    /// The chart as an SVG document.
    ///
    /// # Errors
    /// [`FigureError::Empty`] with no points, [`FigureError::NotFinite`] for NaN/inf,
    /// [`FigureError::NotPositiveOnLogAxis`] for values <= 0 on log axes,
    /// [`FigureError::Draw`] if plotters fails.
    pub fn svg_string(&self) -> Result<String, FigureError> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size).into_drawing_area();
            self.draw(root)?;
        }
        Ok(svg)
    }

    /// The chart as PNG bytes (8-bit RGB).
    ///
    /// # Errors
    /// As [`LineChart::svg_string`], and [`FigureError::Encode`].
    pub fn png_bytes(&self) -> Result<Vec<u8>, FigureError> {
        let (w, h) = self.size;
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, self.size).into_drawing_area();
            self.draw(root)?;
        }
        encode_png_rgb(&rgb, w, h)
    }

    /// Writes the chart to `path` as PNG or SVG, chosen by the file extension (`.png`/`.svg`).
    ///
    /// # Errors
    /// As [`LineChart::png_bytes`], and [`FigureError::Io`].
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), FigureError> {
        let path = path.as_ref();
        if path.extension().is_some_and(|e| e == "svg") {
            write_file(path, self.svg_string()?.as_bytes())
        } else {
            write_file(path, &self.png_bytes()?)
        }
    }

    /// Writes `<stem>.png` and `<stem>.svg` into `dir`, returning both paths.
    ///
    /// # Errors
    /// As [`LineChart::write`].
    pub fn write_png_and_svg(
        &self,
        dir: impl AsRef<Path>,
        stem: &str,
    ) -> Result<Vec<std::path::PathBuf>, FigureError> {
        let png = dir.as_ref().join(format!("{stem}.png"));
        let svg = dir.as_ref().join(format!("{stem}.svg"));
        self.write(&png)?;
        self.write(&svg)?;
        Ok(vec![png, svg])
    }

    /// Shows the chart inline in an evcxr notebook (as PNG).
    pub fn evcxr_display(&self) {
        match self.png_bytes() {
            Ok(png) => evcxr_print_png(&png),
            Err(e) => println!("LineChart: {e}"),
        }
    }
}

fn draw_axes<DB, X, Y>(
    chart: &LineChart,
    root: DrawingArea<DB, Shift>,
    x: X,
    y: Y,
) -> Result<(), FigureError>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| FigureError::Draw(e.to_string());
    root.fill(&WHITE).map_err(err)?;
    let mut ctx = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE)
        .draw()
        .map_err(err)?;
    for (i, s) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let style = color.stroke_width(2);
        let points = s.points.iter().copied();
        let drawn = match s.style {
            SeriesStyle::Line => ctx
                .draw_series(LineSeries::new(points, style))
                .map_err(err)?,
            SeriesStyle::Dashed => ctx
                .draw_series(DashedLineSeries::new(points, 8, 5, style))
                .map_err(err)?,
            SeriesStyle::Points => ctx
                .draw_series(points.map(|p| Circle::new(p, 3, color.filled())))
                .map_err(err)?,
        };
        let marker = if s.style == SeriesStyle::Points { 3 } else { 0 };
        let path = if s.style == SeriesStyle::Points {
            vec![]
        } else {
            vec![(0, 0), (24, 0)]
        };
        drawn.label(s.name.as_str()).legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + Circle::new((12, 0), marker, color.filled())
                + PathElement::new(path.clone(), style)
        });
    }
    ctx.configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(match chart.legend {
            LegendPosition::UpperRight => SeriesLabelPosition::UpperRight,
            LegendPosition::UpperLeft => SeriesLabelPosition::UpperLeft,
            LegendPosition::LowerRight => SeriesLabelPosition::LowerRight,
            LegendPosition::LowerLeft => SeriesLabelPosition::LowerLeft,
            LegendPosition::LowerMiddle => SeriesLabelPosition::LowerMiddle,
        })
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
