//! Figures of Part 2 (chapters 6-10), drawn with plotters after
//! [`crate::figures::ensure_font`]. Every figure is computed by the library with fixed seeds,
//! so re-rendering gives the same bytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use ndarray::{Array1, Array2, Ix2, arr1};
use plotters::coord::Shift;
use plotters::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::diffusion::bound::loss_weight;
use crate::diffusion::forward::{q_sample, standard_normal};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::reverse::{
    ReverseOptions, VarianceKind, p_sample_loop, p_sample_loop_trajectory,
};
use crate::diffusion::schedule::NoiseSchedule;
use crate::diffusion::sde::{VpSde, probability_flow_heun, reverse_sde_euler_maruyama};

/// The first training image of the bundled MNIST subset, as 784 bytes (row-major 28 x 28).
fn first_mnist_digit() -> anyhow::Result<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/mnist-10k/train-images-idx3-ubyte.gz"
    );
    let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    let mut bytes = vec![0u8; 16 + 784]; // IDX header (magic, count, rows, cols), one image
    flate2::read::GzDecoder::new(file)
        .read_exact(&mut bytes)
        .with_context(|| format!("reading the first image of {path}"))?;
    Ok(bytes[16..].to_vec())
}

fn palette(i: usize) -> RGBColor {
    [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(23, 190, 207),
        RGBColor(140, 86, 75),
        RGBColor(60, 60, 60),
    ][i % 8]
}

/// A named polyline for [`line_panel`].
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Line {
    Line {
        label: label.into(),
        points,
    }
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// Draws lines with a legend into one panel.
fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    x_range: (f64, f64),
    y_range: (f64, f64),
    lines: &[Line],
) -> anyhow::Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    for (i, l) in lines.iter().enumerate() {
        let color = palette(i);
        chart
            .draw_series(LineSeries::new(l.points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(l.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Scatter of point clouds into one panel.
fn scatter_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    range: (f64, f64),
    clouds: &[(&str, &Array2<f64>)],
) -> anyhow::Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(25)
        .y_label_area_size(35)
        .build_cartesian_2d(range.0..range.1, range.0..range.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .label_style(("sans-serif", 11))
        .draw()
        .map_err(err)?;
    for (i, (label, x)) in clouds.iter().enumerate() {
        let color = palette(i);
        chart
            .draw_series(
                x.rows()
                    .into_iter()
                    .map(|r| Circle::new((r[0], r[1]), 1, color.mix(0.6).filled())),
            )
            .map_err(err)?
            .label(label.to_string())
            .legend(move |(x, y)| Circle::new((x + 8, y), 3, color.filled()));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 11))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| lo + (hi - lo) * k as f64 / (n - 1) as f64)
        .collect()
}

/// Figure 6.1: beta_t, alpha_bar_t and log10 SNR(t) of the linear and cosine schedules.
fn schedules(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("06-schedules.svg");
    let file = path.clone();
    let lin = NoiseSchedule::linear(1000)?;
    let cos = NoiseSchedule::cosine(1000)?;
    let series = |s: &NoiseSchedule, f: &dyn Fn(&NoiseSchedule, usize) -> f64| -> Vec<(f64, f64)> {
        (0..1000).map(|i| ((i + 1) as f64, f(s, i))).collect()
    };
    let root = SVGBackend::new(&file, (1200, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 3));
    line_panel(
        &panels[0],
        "beta_t",
        "t",
        "beta_t",
        (0.0, 1000.0),
        (0.0, 0.05),
        &[
            line("linear", series(&lin, &|s, i| s.beta()[i])),
            line("cosine", series(&cos, &|s, i| s.beta()[i])),
        ],
    )?;
    line_panel(
        &panels[1],
        "alpha_bar_t",
        "t",
        "alpha_bar_t",
        (0.0, 1000.0),
        (0.0, 1.0),
        &[
            line("linear", series(&lin, &|s, i| s.alpha_bar()[i])),
            line("cosine", series(&cos, &|s, i| s.alpha_bar()[i])),
        ],
    )?;
    let log_snr = |s: &NoiseSchedule| -> Vec<(f64, f64)> {
        s.snr()
            .iter()
            .enumerate()
            .map(|(i, v)| ((i + 1) as f64, v.log10()))
            .collect()
    };
    line_panel(
        &panels[2],
        "log10 SNR(t) = log10(abar/(1-abar))",
        "t",
        "log10 SNR",
        (0.0, 1000.0),
        (-6.0, 5.0),
        &[line("linear", log_snr(&lin)), line("cosine", log_snr(&cos))],
    )?;
    root.present().map_err(err)?;
    Ok(path)
}

/// Figure 6.2: an MNIST digit under q(x_t | x_0) at t = 0, 50, ..., 1000 (top: linear,
/// bottom: cosine), with one shared noise draw so the rows differ only by the schedule.
fn mnist_noising(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("06-mnist-noising.png");
    let digit = first_mnist_digit()?;
    let x0 = Array1::from_iter(digit.iter().map(|&p| f64::from(p) / 127.5 - 1.0)); // [-1, 1]
    let mut rng = ChaCha8Rng::seed_from_u64(2020);
    let eps = standard_normal(x0.raw_dim(), &mut rng);
    let (scale, gap, cols) = (2u32, 4u32, 21u32);
    // room for the row labels (schedule) on the left and the column labels (t) on top
    let (left, top) = (64u32, 20u32);
    let cell = 28 * scale + gap;
    let (w, h) = (left + cols * cell + gap, top + 2 * cell + gap);
    crate::figures::ensure_font();
    let file = path.clone();
    let root = BitMapBackend::new(&file, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let label = ("sans-serif", 14).into_font().color(&BLACK);
    let small = ("sans-serif", 12).into_font().color(&BLACK);
    for col in 0..cols {
        let text = if col == 0 {
            "t = 0".to_string()
        } else {
            format!("{}", 50 * col)
        };
        let x = (left + gap + col * cell + 28 * scale / 2) as i32;
        let style = small.pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ));
        root.draw_text(&text, &style, (x, 4)).map_err(err)?;
    }
    for (row, (name, s)) in [
        ("linear", NoiseSchedule::linear(1000)?),
        ("cosine", NoiseSchedule::cosine(1000)?),
    ]
    .iter()
    .enumerate()
    {
        let y0 = top + gap + row as u32 * cell;
        let style = label.pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ));
        root.draw_text(name, &style, (4, (y0 + 28 * scale / 2) as i32))
            .map_err(err)?;
        for col in 0..cols {
            let t = 50 * col as usize;
            let xt = if t == 0 {
                x0.clone()
            } else {
                q_sample(s, &x0, t, &eps)
            };
            for (k, v) in xt.iter().enumerate() {
                let grey = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
                let (py, px) = ((k / 28) as u32, (k % 28) as u32);
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = left + gap + col * cell + px * scale + dx;
                        root.draw_pixel(
                            (x as i32, (y0 + py * scale + dy) as i32),
                            &RGBColor(grey, grey, grey),
                        )
                        .map_err(err)?;
                    }
                }
            }
        }
    }
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Figure 7.1: the posterior coefficients and beta_tilde_t / beta_t over t (linear, T = 1000).
fn posterior_coefficients(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("07-posterior-coefficients.svg");
    let file = path.clone();
    let s = NoiseSchedule::linear(1000)?;
    // x axis: log10 t, since almost everything happens in the first few dozen steps
    let pts = |f: &dyn Fn(usize) -> f64| -> Vec<(f64, f64)> {
        (0..1000)
            .map(|i| (((i + 1) as f64).log10(), f(i)))
            .collect()
    };
    let root = SVGBackend::new(&file, (800, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    line_panel(
        &root,
        "q(x_{t-1} | x_t, x_0): weights of x_0 and x_t, and beta_tilde / beta",
        "log10 t",
        "value",
        (0.0, 3.0),
        (0.0, 1.4),
        &[
            line("coef1 (x_0)", pts(&|i| s.posterior_mean_coef1()[i])),
            line("coef2 (x_t)", pts(&|i| s.posterior_mean_coef2()[i])),
            line(
                "beta_tilde_t / beta_t",
                pts(&|i| s.posterior_variance()[i] / s.beta()[i]),
            ),
        ],
    )?;
    root.present().map_err(err)?;
    Ok(path)
}

/// Figure 8.1: the exact density q_t(x) of the 1-D book mixture at several t (linear schedule).
fn mixture_densities(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("08-mixture-densities.svg");
    let file = path.clone();
    let m = GaussianMixture::book_1d();
    let s = NoiseSchedule::linear(1000)?;
    let xs = grid(-3.5, 3.5, 701);
    let mut lines = Vec::new();
    for t in [0usize, 20, 50, 100, 200, 400, 1000] {
        let q = if t == 0 {
            m.clone()
        } else {
            m.noised(s.alpha_bar()[t - 1])
        };
        let pts = xs
            .iter()
            .map(|&x| (x, q.density(arr1(&[x]).view())))
            .collect();
        lines.push(line(format!("t = {t}"), pts));
    }
    let root = SVGBackend::new(&file, (800, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    line_panel(
        &root,
        "q(x_t) for the 1-D mixture (linear schedule, T = 1000)",
        "x",
        "density",
        (-3.5, 3.5),
        (0.0, 0.7),
        &lines,
    )?;
    root.present().map_err(err)?;
    Ok(path)
}

/// Figure 8.2: 40 ancestral-sampling trajectories of the 1-D mixture with the exact denoiser.
fn trajectories_1d(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("08-trajectories-1d.svg");
    let file = path.clone();
    let m = GaussianMixture::book_1d();
    let s = NoiseSchedule::linear(1000)?;
    let den = m.denoiser(&s);
    let keep: Vec<usize> = (0..=1000).step_by(5).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let traj = p_sample_loop_trajectory(
        &s,
        &den,
        Ix2(40, 1),
        ReverseOptions::unclipped(VarianceKind::Beta),
        &keep,
        &mut rng,
    );
    let root = SVGBackend::new(&file, (800, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Ancestral sampling with the exact E[eps | x_t]: noise (t = 1000) to data (t = 0)",
            ("sans-serif", 16),
        )
        .margin(8)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(1000f64..0f64, -3.5f64..3.5f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("t")
        .y_desc("x_t")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    for j in 0..40 {
        let pts: Vec<(f64, f64)> = traj.iter().map(|(t, x)| (*t as f64, x[[j, 0]])).collect();
        let color = palette(j);
        chart
            .draw_series(LineSeries::new(pts, color.mix(0.7).stroke_width(1)))
            .map_err(err)?;
    }
    for mean in m.means() {
        chart
            .draw_series(LineSeries::new(
                vec![(30.0, mean[0]), (0.0, mean[0])],
                BLACK.stroke_width(3),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(path)
}

/// Figure 8.3: the 2-D mixture, its samples, and ancestral samples with the exact denoiser.
fn samples_2d(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("08-samples-2d.svg");
    let file = path.clone();
    let m = GaussianMixture::book_2d();
    let s = NoiseSchedule::linear(1000)?;
    let mut rng = ChaCha8Rng::seed_from_u64(82);
    let data = m.sample(1500, &mut rng);
    let noise = standard_normal(Ix2(1500, 2), &mut rng);
    let den = m.denoiser(&s);
    let gen_b = p_sample_loop(
        &s,
        &den,
        Ix2(1500, 2),
        ReverseOptions::unclipped(VarianceKind::Beta),
        &mut rng,
    );
    let root = SVGBackend::new(&file, (1200, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 3));
    scatter_panel(
        &panels[0],
        "data x_0 ~ p(x_0)",
        (-2.5, 2.5),
        &[("data", &data)],
    )?;
    scatter_panel(
        &panels[1],
        "x_T ~ N(0, I)",
        (-2.5, 2.5),
        &[("noise", &noise)],
    )?;
    scatter_panel(
        &panels[2],
        "ancestral samples (T = 1000, sigma^2 = beta)",
        (-2.5, 2.5),
        &[("generated", &gen_b)],
    )?;
    root.present().map_err(err)?;
    Ok(path)
}

/// Figure 9.1: the weight of ||eps - eps_theta||^2 in L_{t-1}, over t, for both sigma_t^2.
fn loss_weights(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("09-loss-weight.svg");
    let file = path.clone();
    let s = NoiseSchedule::linear(1000)?;
    let pts = |kind| -> Vec<(f64, f64)> {
        (2..=1000)
            .map(|t| (t as f64, loss_weight(&s, t, kind).log10()))
            .collect()
    };
    let root = SVGBackend::new(&file, (800, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    line_panel(
        &root,
        "log10 of beta^2 / (2 sigma^2 alpha (1 - abar)); L_simple uses weight 1 (log10 = 0)",
        "t",
        "log10 weight",
        (0.0, 1000.0),
        (-3.5, 0.5),
        &[
            line("sigma^2 = beta", pts(VarianceKind::Beta)),
            line("sigma^2 = beta_tilde", pts(VarianceKind::PosteriorBeta)),
        ],
    )?;
    root.present().map_err(err)?;
    Ok(path)
}

/// Figure 10.1: reverse SDE (Euler-Maruyama) and probability-flow ODE (Heun) samples of the
/// 2-D mixture with the exact score, plus ODE paths.
fn sde_samplers(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("10-sde-ode-2d.svg");
    let file = path.clone();
    let m = GaussianMixture::book_2d();
    let sde = VpSde::from_schedule(&NoiseSchedule::linear(1000)?);
    let score = |x: &Array2<f64>, tau: f64| m.noised(sde.alpha_bar(tau)).score(x);
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let x1 = standard_normal(Ix2(1500, 2), &mut rng);
    let sde_x = reverse_sde_euler_maruyama(&sde, score, x1.clone(), 500, &mut rng)?;
    let ode_x = probability_flow_heun(&sde, score, x1, 100)?;
    let root = SVGBackend::new(&file, (1200, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 3));
    scatter_panel(
        &panels[0],
        "reverse SDE, Euler-Maruyama, 500 steps",
        (-2.5, 2.5),
        &[("samples", &sde_x)],
    )?;
    scatter_panel(
        &panels[1],
        "probability-flow ODE, Heun, 100 steps",
        (-2.5, 2.5),
        &[("samples", &ode_x)],
    )?;
    let starts = standard_normal(Ix2(25, 2), &mut ChaCha8Rng::seed_from_u64(11));
    let paths = ode_paths(&sde, &m, &starts, 50);
    let mut chart = ChartBuilder::on(&panels[2])
        .caption(
            "ODE paths: x_1 (dot) to x_0 (cross); grey: ODE samples",
            ("sans-serif", 15),
        )
        .margin(8)
        .x_label_area_size(25)
        .y_label_area_size(35)
        .build_cartesian_2d(-2.5f64..2.5f64, -2.5f64..2.5f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .label_style(("sans-serif", 11))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(
            ode_x
                .rows()
                .into_iter()
                .map(|r| Circle::new((r[0], r[1]), 1, RGBColor(200, 200, 200).filled())),
        )
        .map_err(err)?;
    for (j, p) in paths.iter().enumerate() {
        let color = palette(j);
        chart
            .draw_series(LineSeries::new(p.clone(), color.stroke_width(1)))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Circle::new(p[0], 3, color.filled())))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Cross::new(
                p[p.len() - 1],
                4,
                BLACK.stroke_width(2),
            )))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(path)
}

/// Points along probability-flow ODE solutions: `chunks` pieces, each integrated with Heun on
/// a sub-interval (the sampler integrates over [0, 1]; here time is rescaled per chunk).
fn ode_paths(
    sde: &VpSde,
    m: &GaussianMixture,
    starts: &Array2<f64>,
    chunks: usize,
) -> Vec<Vec<(f64, f64)>> {
    let mut x = starts.clone();
    let mut paths: Vec<Vec<(f64, f64)>> =
        x.rows().into_iter().map(|r| vec![(r[0], r[1])]).collect();
    let dt = 1.0 / chunks as f64;
    for k in (1..=chunks).rev() {
        let (tau, next) = (k as f64 * dt, (k - 1) as f64 * dt);
        // one Heun step of the probability-flow ODE from tau to next
        let v = |x: &Array2<f64>, tau: f64| {
            sde.drift(x, tau) - m.noised(sde.alpha_bar(tau)).score(x) * (0.5 * sde.beta(tau))
        };
        let v1 = v(&x, tau);
        let xe = &x - &(&v1 * dt);
        let v2 = v(&xe, next);
        x = &x - &((v1 + v2) * (0.5 * dt));
        for (p, r) in paths.iter_mut().zip(x.rows()) {
            p.push((r[0], r[1]));
        }
    }
    paths
}

/// Renders Part 2's figures into `dir`.
///
/// # Errors
/// Fails if a figure cannot be drawn or written, or the bundled MNIST file cannot be read.
pub fn render(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    crate::figures::ensure_font();
    Ok(vec![
        schedules(dir)?,
        mnist_noising(dir)?,
        posterior_coefficients(dir)?,
        mixture_densities(dir)?,
        trajectories_1d(dir)?,
        samples_2d(dir)?,
        loss_weights(dir)?,
        sde_samplers(dir)?,
    ])
}
