//! The `ddpm eval` run and its report (chapters 15-17): one report with the variational bound of a weights folder on
//! the test split and the sample quality of one or more samplers, printed as a table and
//! written as JSON.
//!
//! Everything is computed by [`super::measure`] (the bound, the classifier statistics) and
//! [`super::sample`] (the samplers); this module only runs them in order, times the
//! samplers, and formats the result.

use std::fmt::Write as _;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use burn::prelude::*;

use super::TrainingConfig;
use super::measure::{
    BoundOptions, BoundReport, EvalError, QualityReference, SetQuality, variational_bound,
};
use super::sample::{SampleOptions, Sampler, VarianceKind, sample};
use crate::data::ImageSet;
use crate::network::classifier::Classifier;
use crate::network::{AutoGuided, NoisePredictor, UNet};

/// A short label, e.g. `DDPM-1000 beta` or `DDIM-50 eta=0`.
pub fn sampler_label(sampler: &Sampler, num_timesteps: usize) -> String {
    match sampler {
        Sampler::Ancestral { variance } => format!(
            "DDPM-{num_timesteps} {}",
            match variance {
                VarianceKind::Beta => "beta",
                VarianceKind::PosteriorBeta => "beta~",
            }
        ),
        Sampler::Ddim { steps, eta } => format!("DDIM-{steps} eta={eta}"),
    }
}

/// The sampler a [`sampler_label`] names (its exact inverse), or `None` for any other text.
/// Reports store the label; this reads it back without guessing from substrings.
///
/// ```
/// use ddpm::workflows::eval_report::{parse_sampler_label, sampler_label};
/// use ddpm::workflows::sample::{Sampler, VarianceKind};
/// for sampler in [
///     Sampler::Ddim { steps: 50, eta: 0.0 },
///     Sampler::Ddim { steps: 10, eta: 0.25 },
///     Sampler::Ancestral { variance: VarianceKind::PosteriorBeta },
/// ] {
///     assert_eq!(parse_sampler_label(&sampler_label(&sampler, 1000)), Some(sampler));
/// }
/// assert_eq!(parse_sampler_label("DDIM-50 eta=fast"), None);
/// assert_eq!(parse_sampler_label("DDIM-50"), None);
/// ```
pub fn parse_sampler_label(label: &str) -> Option<Sampler> {
    let (name, detail) = label.split_once(' ')?;
    if let Some(steps) = name.strip_prefix("DDIM-") {
        let eta = detail.strip_prefix("eta=")?.parse().ok()?;
        return Some(Sampler::Ddim {
            steps: steps.parse().ok()?,
            eta,
        });
    }
    name.strip_prefix("DDPM-")?.parse::<usize>().ok()?;
    let variance = match detail {
        "beta" => VarianceKind::Beta,
        "beta~" => VarianceKind::PosteriorBeta,
        _ => return None,
    };
    Some(Sampler::Ancestral { variance })
}

/// Network evaluations per image.
pub fn network_evaluations(sampler: &Sampler, num_timesteps: usize) -> usize {
    match sampler {
        Sampler::Ancestral { .. } => num_timesteps,
        Sampler::Ddim { steps, .. } => *steps,
    }
}

/// One sampler's row of the quality table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplerQuality {
    /// e.g. `DDIM-50 eta=0`.
    pub sampler: String,
    /// Network evaluations per image.
    pub network_evaluations: usize,
    /// Wall-clock seconds to draw all the samples.
    pub seconds: f64,
    /// The samples' statistics.
    pub quality: SetQuality,
    /// The first [`EvalSettings::keep_images`] of the scored samples (row-major, in
    /// $[-1, 1]$), to look at; not written to JSON.
    #[serde(skip)]
    pub images: Vec<f32>,
}

impl SamplerQuality {
    /// The sampler of this row (read back from its label by [`parse_sampler_label`]).
    pub fn kind(&self) -> Option<Sampler> {
        parse_sampler_label(&self.sampler)
    }
}

/// Sample quality of each sampler, with the floor and ceiling of the same size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityTable {
    /// Test digits the FLDs compare against.
    pub test_images: usize,
    /// Real training digits (as many as samples): the best a model can score.
    pub floor: SetQuality,
    /// Clipped Gaussian noise (as many as samples): what learning nothing scores.
    pub ceiling: SetQuality,
    /// One row per sampler.
    pub samplers: Vec<SamplerQuality>,
}

/// What `ddpm eval` computes.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSettings {
    /// The bound, or `None` to skip it.
    pub bound: Option<BoundOptions>,
    /// Samples per sampler (0 skips the quality table).
    pub samples: usize,
    /// The samplers to compare.
    pub samplers: Vec<Sampler>,
    /// Clip $\hat x_0$ while sampling.
    pub clip_x0: bool,
    /// Seed of the samples (and of the noise ceiling).
    pub seed: u64,
    /// Images per sampling batch (memory vs speed).
    pub sample_batch: usize,
    /// How many of each sampler's scored samples to keep in [`SamplerQuality::images`].
    pub keep_images: usize,
}

/// The whole report; serialised as `eval.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The weights folder evaluated.
    pub weights: String,
    /// EMA (true) or raw weights.
    pub ema: bool,
    /// Network parameters.
    pub params: usize,
    /// The run's configuration (model, schedule, steps).
    pub config: TrainingConfig,
    /// The bound, when computed.
    pub bound: Option<BoundReport>,
    /// The quality table, when computed.
    pub quality: Option<QualityTable>,
    /// The guide the samples were drawn with (autoguidance, chapter 18); `None`: the network
    /// alone. The bound is always the network's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide: Option<GuideInfo>,
}

/// Which guide drew a report's samples, and with what weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuideInfo {
    /// The guide's weights folder.
    pub weights: String,
    /// The guide's parameters.
    pub params: usize,
    /// The guide's training steps.
    pub steps: usize,
    /// The weight $w$ of [`crate::network::AutoGuided`].
    pub w: f64,
}

/// Draws `count` images with `sampler`, `batch` at a time (batch `k` uses seed `seed + k`).
///
/// # Errors
/// [`EvalError::Setting`] for an invalid sampler or zero batch.
#[allow(clippy::too_many_arguments)]
pub fn draw_samples(
    model: &(impl NoisePredictor + ?Sized),
    config: &TrainingConfig,
    sampler: Sampler,
    count: usize,
    batch: usize,
    clip_x0: bool,
    seed: u64,
    device: &Device,
) -> Result<Vec<f32>, EvalError> {
    if batch == 0 {
        return Err(EvalError::Setting {
            name: "sample_batch",
            value: "0".into(),
            hint: "draw at least 1 image per batch",
        });
    }
    let schedule = config.schedule.build()?;
    let mut images = Vec::with_capacity(count * config.model.image_size.pow(2));
    for (k, start) in (0..count).step_by(batch).enumerate() {
        let options = SampleOptions {
            sampler,
            clip_x0,
            seed: seed.wrapping_add(k as u64),
            count: batch.min(count - start),
            frames: 0,
        };
        let drawn = sample(
            model,
            &schedule,
            config.model.image_channels,
            config.model.image_size,
            &options,
            device,
            |_, _| {},
        )?;
        images.extend(drawn.images);
    }
    Ok(images)
}

// ANCHOR: evaluate
/// Runs the evaluation: the bound of `model` on `test` (if asked), then for each sampler
/// `settings.samples` samples scored by `classifier` against `test`, beside the floor (that
/// many `train` digits) and the ceiling (that many noise images). `progress` receives a line
/// before each stage.
///
/// # Errors
/// [`EvalError`] for invalid settings (images, samples, samplers) or failed statistics.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    model: &UNet,
    config: &TrainingConfig,
    classifier: &Classifier,
    train: &ImageSet,
    test: &ImageSet,
    settings: &EvalSettings,
    device: &Device,
    progress: impl FnMut(&str),
) -> Result<(Option<BoundReport>, Option<QualityTable>), EvalError> {
    evaluate_guided(
        model, None, config, classifier, train, test, settings, device, progress,
    )
}

/// [`evaluate`] with the samples drawn by `model` autoguided by `guide` at weight $w$
/// ([`AutoGuided`], chapter 18); `None` is [`evaluate`]. The bound stays the network's own.
///
/// # Errors
/// As [`evaluate`]; a negative or non-finite $w$ as [`EvalError::Setting`].
#[allow(clippy::too_many_arguments)]
pub fn evaluate_guided(
    model: &UNet,
    guide: Option<(&UNet, f64)>,
    config: &TrainingConfig,
    classifier: &Classifier,
    train: &ImageSet,
    test: &ImageSet,
    settings: &EvalSettings,
    device: &Device,
    mut progress: impl FnMut(&str),
) -> Result<(Option<BoundReport>, Option<QualityTable>), EvalError> {
    let schedule = config.schedule.build()?;
    if test.rows != config.model.image_size || test.cols != config.model.image_size {
        return Err(EvalError::Setting {
            name: "data",
            value: format!("{}x{} images", test.rows, test.cols),
            hint: "the test images must have the network's image size (28x28 for MNIST)",
        });
    }
    let bound = match &settings.bound {
        Some(options) => {
            progress(&format!(
                "bound: {} test images, {:?}",
                options.images, options.mode
            ));
            Some(variational_bound(
                |x, t| model.forward(x, t),
                &schedule,
                test,
                options,
                device,
            )?)
        }
        None => None,
    };
    let guided = match guide {
        Some((guide, w)) => {
            Some(
                AutoGuided::new(model, guide, w).map_err(|e| EvalError::Setting {
                    name: "autoguidance",
                    value: format!("{w} ({e})"),
                    hint: "give a finite weight >= 0",
                })?,
            )
        }
        None => None,
    };
    let sampled: &dyn NoisePredictor = match &guided {
        Some(g) => g,
        None => model,
    };
    let quality = if settings.samples == 0 || settings.samplers.is_empty() {
        None
    } else {
        let count = settings.samples;
        progress("quality: classifier features of the test split, floor and ceiling");
        let reference =
            QualityReference::new(classifier, train, test, count, settings.seed, device)?;
        let big_t = schedule.num_timesteps();
        let mut rows = Vec::new();
        for &sampler in &settings.samplers {
            let label = sampler_label(&sampler, big_t);
            progress(&format!("quality: {count} samples with {label}"));
            let start = Instant::now();
            let images = draw_samples(
                sampled,
                config,
                sampler,
                count,
                settings.sample_batch,
                settings.clip_x0,
                settings.seed,
                device,
            )?;
            let seconds = start.elapsed().as_secs_f64();
            let kept = settings.keep_images.min(count) * config.model.image_size.pow(2);
            rows.push(SamplerQuality {
                sampler: label,
                network_evaluations: network_evaluations(&sampler, big_t),
                seconds,
                quality: reference.score(classifier, &images, device)?,
                images: images[..kept].to_vec(),
            });
        }
        Some(QualityTable {
            test_images: reference.test_images,
            floor: reference.floor,
            ceiling: reference.ceiling,
            samplers: rows,
        })
    };
    Ok((bound, quality))
}
// ANCHOR_END: evaluate

impl EvalReport {
    /// The report as a plain-text table (what `ddpm eval` prints).
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "weights {} ({}, {} parameters, {} training steps)",
            self.weights,
            if self.ema { "EMA" } else { "raw" },
            self.params,
            self.config.steps
        );
        if let Some(g) = &self.guide {
            let _ = writeln!(
                s,
                "samples autoguided by {} ({} parameters, {} training steps) at w = {}",
                g.weights, g.params, g.steps, g.w
            );
        }
        if let Some(b) = &self.bound {
            let mode = match b.mode {
                super::measure::BoundMode::Exact => "exact: all T terms".to_string(),
                super::measure::BoundMode::Sampled {
                    timesteps_per_image,
                } => format!("unbiased estimate: {timesteps_per_image} sampled t per image"),
            };
            let _ = writeln!(
                s,
                "\nvariational bound on {} test images ({mode}), bits/dim",
                b.images
            );
            let _ = writeln!(
                s,
                "{:<10} {:>10} {:>8} {:>10} {:>12} {:>10}",
                "sigma^2", "total", "+-SE", "L_T", "sum L_t-1", "L_0"
            );
            for p in &b.parts {
                let name = match p.variance {
                    VarianceKind::Beta => "beta",
                    VarianceKind::PosteriorBeta => "beta~",
                };
                let _ = writeln!(
                    s,
                    "{name:<10} {:>10.4} {:>8.4} {:>10.2e} {:>12.4} {:>10.4}",
                    p.bits_per_dim, p.standard_error, p.prior_bpd, p.diffusion_bpd, p.decoder_bpd
                );
            }
        }
        if let Some(q) = &self.quality {
            let n = q.floor.count;
            let _ = writeln!(
                s,
                "\nsample quality: {n} images per row, FLD against {} test digits",
                q.test_images
            );
            let _ = writeln!(
                s,
                "{:<20} {:>6} {:>9} {:>9} {:>10} {:>9}",
                "images", "evals", "seconds", "FLD", "conf>=0.9", "entropy"
            );
            let mut row = |name: &str, evals: String, secs: String, r: &SetQuality| {
                let _ = writeln!(
                    s,
                    "{name:<20} {evals:>6} {secs:>9} {:>9.2} {:>9.1}% {:>9.3}",
                    r.fld,
                    100.0 * r.confident_share,
                    r.label_entropy
                );
            };
            row("train digits (floor)", "-".into(), "-".into(), &q.floor);
            for r in &q.samplers {
                row(
                    &r.sampler,
                    r.network_evaluations.to_string(),
                    format!("{:.1}", r.seconds),
                    &r.quality,
                );
            }
            row("noise (ceiling)", "-".into(), "-".into(), &q.ceiling);
            let _ = writeln!(
                s,
                "(label entropy: ln 10 = 2.303 nats is uniform; confidence: top class probability)"
            );
        }
        s
    }
}

/// The per-timestep terms of an exact bound as a log-log chart (one line per $\sigma_t^2$);
/// `None` for a sampled bound, which has no per-timestep values.
pub fn bound_terms_chart(bound: &BoundReport) -> Option<crate::figures::LineChart> {
    use crate::figures::{LineChart, Series};
    if bound.parts.iter().any(|p| p.terms_bpd.is_empty()) {
        return None;
    }
    let mut chart = LineChart::new(
        format!("Bound terms per timestep ({} test images)", bound.images),
        "timestep t (term L_(t-1); t = 1 is L_0)",
        "bits/dim",
    )
    .log_log(true);
    for p in &bound.parts {
        let name = match p.variance {
            VarianceKind::Beta => "sigma^2 = beta",
            VarianceKind::PosteriorBeta => "sigma^2 = beta~",
        };
        let points = p
            .terms_bpd
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0)
            .map(|(i, &v)| ((i + 1) as f64, v))
            .collect();
        chart = chart.series(Series::line(name, points));
    }
    Some(chart)
}

/// FLD against network evaluations per image (log x axis), one line per DDIM $\eta$ and one
/// point per ancestral sampler, with the floor as a dashed line: chapter 17's figure. `rows`
/// may come from several `ddpm eval` runs with the same sample count; a row whose label is not
/// a [`sampler_label`] (see [`SamplerQuality::kind`]) is left out.
pub fn sampler_chart(rows: &[SamplerQuality], floor_fld: f64) -> crate::figures::LineChart {
    use crate::figures::{LineChart, Series};
    let eta_of = |r: &SamplerQuality| match r.kind() {
        Some(Sampler::Ddim { eta, .. }) => Some(eta),
        _ => None,
    };
    let mut etas: Vec<f64> = Vec::new();
    for eta in rows.iter().filter_map(eta_of) {
        if !etas.contains(&eta) {
            etas.push(eta);
        }
    }
    // log10 of the evaluations: LineChart's log scale is all-or-nothing, and FLD reads best
    // on a linear axis.
    let x = |r: &SamplerQuality| (r.network_evaluations as f64).log10();
    let mut chart = LineChart::new(
        format!("Sample quality against sampling cost ({} samples each)", {
            rows.first().map_or(0, |r| r.quality.count)
        }),
        "log10(network evaluations per image)",
        "FLD to the test digits (lower is better)",
    );
    for eta in &etas {
        let mut points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| eta_of(r) == Some(*eta))
            .map(|r| (x(r), r.quality.fld))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart = chart.series(Series::line(format!("DDIM, eta = {eta}"), points));
    }
    for r in rows
        .iter()
        .filter(|r| matches!(r.kind(), Some(Sampler::Ancestral { .. })))
    {
        chart = chart.series(Series::points(
            r.sampler.clone(),
            vec![(x(r), r.quality.fld)],
        ));
    }
    let (lo, hi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(x(r)), hi.max(x(r)))
        });
    if lo.is_finite() {
        chart = chart.series(Series::dashed(
            "floor (real digits)",
            vec![(lo, floor_fld), (hi, floor_fld)],
        ));
    }
    chart
}
