//! Class-conditional training, sampling and evaluation (chapter 18).
//!
//! The network side ([`crate::network::conditional`]) adds a label embedding to the timestep
//! embedding and combines two predictions into the guided one. This module holds what runs
//! around it: label dropout while training ([`drop_labels`]), sampling a chosen digit or one
//! row per digit ([`sample_digits`]), and the guidance sweep of `ddpm eval --guidance`
//! ([`guidance_sweep`]): for each guidance weight $w$, the share of samples the classifier
//! assigns to the requested digit, digit by digit, beside the FLD of all of them.

use std::fmt::Write as _;
use std::time::Instant;

use burn::prelude::*;
use ndarray::Axis;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::TrainingConfig;
use super::eval_report::sampler_label;
use super::measure::{EvalError, QualityReference, SetQuality, classify};
use super::sample::{SampleError, SampleOptions, Sampler, Samples, sample};
use crate::network::classifier::Classifier;
use crate::network::{Guided, LabelError, UNet};

/// The guidance weight of the sample grids written during a conditional training run.
pub const TRAINING_GRID_GUIDANCE: f64 = 1.0;

/// The guidance weights `ddpm eval` sweeps by default (issue 20).
pub const DEFAULT_GUIDANCE_WEIGHTS: [f64; 5] = [0.0, 0.5, 1.0, 2.0, 4.0];

// ANCHOR: drop_labels
/// Label dropout (Ho & Salimans 2022, Algorithm 1): each label is replaced by the null class
/// `null` with probability `p`, independently, using one uniform draw of `rng` per label.
///
/// ```
/// use ddpm::workflows::conditional::drop_labels;
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// assert_eq!(drop_labels(&[3, 1, 4], 0.0, 10, &mut rng), vec![3, 1, 4]); // p = 0 keeps all
/// ```
pub fn drop_labels(labels: &[usize], p: f64, null: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    labels
        .iter()
        .map(|&y| if rng.random::<f64>() < p { null } else { y })
        .collect()
}
// ANCHOR_END: drop_labels

/// Errors of conditional sampling.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConditionalError {
    /// A bad label or an unconditional network.
    #[error(transparent)]
    Label(#[from] LabelError),
    /// Bad sampler settings.
    #[error(transparent)]
    Sample(#[from] SampleError),
}

/// The labels of a grid with one row per digit: `per_digit` copies of 0, then of 1, ... of
/// `num_classes - 1`.
pub fn digit_rows(num_classes: usize, per_digit: usize) -> Vec<usize> {
    (0..num_classes)
        .flat_map(|d| std::iter::repeat_n(d, per_digit))
        .collect()
}

// ANCHOR: sample_digits
/// Draws one image per entry of `labels` from the conditional `model`, guided with weight
/// `w` ([`Guided`]); `options.count` is ignored (the labels say how many).
///
/// # Errors
/// [`ConditionalError`]: the network is unconditional, a label is out of range, or the
/// sampler settings are invalid.
pub fn sample_digits(
    model: &UNet,
    config: &TrainingConfig,
    labels: Vec<usize>,
    w: f64,
    options: &SampleOptions,
    device: &Device,
    on_step: impl FnMut(usize, usize),
) -> Result<Samples, ConditionalError> {
    let count = labels.len();
    let guided = Guided::new(model, labels, w)?;
    let schedule = config
        .schedule
        .build()
        .expect("a loaded config carries a valid schedule");
    let options = SampleOptions {
        count,
        ..options.clone()
    };
    Ok(sample(
        &guided,
        &schedule,
        config.model.image_channels,
        config.model.image_size,
        &options,
        device,
        on_step,
    )?)
}
// ANCHOR_END: sample_digits

/// One guidance weight of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidanceRow {
    /// The guidance weight $w$.
    pub w: f64,
    /// Share of all samples the classifier assigns to the requested digit.
    pub accuracy: f64,
    /// That share for each requested digit 0..9.
    pub per_digit_accuracy: Vec<f64>,
    /// FLD, confidence and label entropy of all the samples (every digit together).
    pub quality: SetQuality,
    /// Seconds to draw the samples.
    pub sample_seconds: f64,
}

/// The report of `ddpm eval --guidance`; serialised as `guidance-*.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidanceReport {
    /// The weights folder evaluated.
    pub weights: String,
    /// The run's configuration.
    pub config: TrainingConfig,
    /// The sampler ([`sampler_label`]).
    pub sampler: String,
    /// Samples drawn per digit and per $w$.
    pub samples_per_digit: usize,
    /// Test digits the FLDs compare against.
    pub test_images: usize,
    /// Real training digits (as many as samples per $w$): the FLD floor.
    pub floor: SetQuality,
    /// Clipped Gaussian noise (as many): the FLD ceiling.
    pub ceiling: SetQuality,
    /// One row per guidance weight.
    pub rows: Vec<GuidanceRow>,
}

/// Share of rows of `probabilities` (`[n, classes]`) whose most probable class is the
/// requested one, overall and per requested class.
pub fn requested_share(
    probabilities: ndarray::ArrayView2<f64>,
    requested: &[usize],
    num_classes: usize,
) -> (f64, Vec<f64>) {
    let mut hits = vec![0usize; num_classes];
    let mut totals = vec![0usize; num_classes];
    for (row, &want) in probabilities.axis_iter(Axis(0)).zip(requested) {
        let best = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(usize::MAX, |(i, _)| i);
        totals[want] += 1;
        hits[want] += usize::from(best == want);
    }
    let per: Vec<f64> = hits
        .iter()
        .zip(&totals)
        .map(|(&h, &n)| {
            if n == 0 {
                f64::NAN
            } else {
                h as f64 / n as f64
            }
        })
        .collect();
    let all = hits.iter().sum::<usize>() as f64 / requested.len().max(1) as f64;
    (all, per)
}

/// What the guidance sweep computes.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidanceSettings {
    /// The guidance weights.
    pub weights: Vec<f64>,
    /// Samples per digit and per weight.
    pub per_digit: usize,
    /// The sampler.
    pub sampler: Sampler,
    /// Seed of the samples (the same for every $w$, so rows differ only by $w$).
    pub seed: u64,
    /// Images per sampling batch.
    pub sample_batch: usize,
}

// ANCHOR: guidance_sweep
/// For each guidance weight: `per_digit` samples of each digit, drawn with the same seeds for
/// every $w$, classified by `classifier`; the share assigned to the requested digit (overall
/// and per digit) and the FLD of all of them against `test`, beside the floor and ceiling of
/// [`QualityReference`]. `progress` receives a line before each weight.
///
/// # Errors
/// [`EvalError::Setting`] for an unconditional network, no weights or zero samples;
/// [`EvalError`] from sampling or the statistics.
#[allow(clippy::too_many_arguments)]
pub fn guidance_sweep(
    model: &UNet,
    config: &TrainingConfig,
    weights_dir: &str,
    classifier: &Classifier,
    train: &crate::data::ImageSet,
    test: &crate::data::ImageSet,
    settings: &GuidanceSettings,
    device: &Device,
    mut progress: impl FnMut(&str),
) -> Result<GuidanceReport, EvalError> {
    let bad = |name, value: String, hint| EvalError::Setting { name, value, hint };
    let num_classes = model.num_classes().ok_or_else(|| {
        bad(
            "guidance",
            weights_dir.to_string(),
            "guidance needs a conditional network: train one with `ddpm train --conditional`",
        )
    })?;
    if settings.weights.is_empty() || settings.per_digit == 0 || settings.sample_batch == 0 {
        return Err(bad(
            "guidance",
            format!(
                "{} weights x {} per digit",
                settings.weights.len(),
                settings.per_digit
            ),
            "give at least one weight, one sample per digit and a batch of at least 1",
        ));
    }
    let labels = digit_rows(num_classes, settings.per_digit);
    let count = labels.len();
    let reference = QualityReference::new(classifier, train, test, count, settings.seed, device)?;
    let schedule = config.schedule.build()?;
    let mut rows = Vec::new();
    for &w in &settings.weights {
        progress(&format!("w = {w}: {count} samples"));
        let started = Instant::now();
        let mut images = Vec::with_capacity(count * config.model.image_size.pow(2));
        for (k, chunk) in labels.chunks(settings.sample_batch).enumerate() {
            let guided = Guided::new(model, chunk.to_vec(), w)
                .map_err(|e| bad("guidance", format!("{w} ({e})"), "use finite weights"))?;
            let options = SampleOptions {
                sampler: settings.sampler,
                clip_x0: true,
                seed: settings.seed.wrapping_add(k as u64),
                count: chunk.len(),
                frames: 0,
            };
            let drawn = sample(
                &guided,
                &schedule,
                config.model.image_channels,
                config.model.image_size,
                &options,
                device,
                |_, _| {},
            )?;
            images.extend(drawn.images);
        }
        let sample_seconds = started.elapsed().as_secs_f64();
        let view = classify(classifier, &images, count, config.model.image_size, device);
        let (accuracy, per_digit_accuracy) =
            requested_share(view.probabilities.view(), &labels, num_classes);
        rows.push(GuidanceRow {
            w,
            accuracy,
            per_digit_accuracy,
            quality: reference.score(classifier, &images, device)?,
            sample_seconds,
        });
    }
    Ok(GuidanceReport {
        weights: weights_dir.to_string(),
        config: config.clone(),
        sampler: sampler_label(&settings.sampler, config.schedule.num_timesteps),
        samples_per_digit: settings.per_digit,
        test_images: reference.test_images,
        floor: reference.floor,
        ceiling: reference.ceiling,
        rows,
    })
}
// ANCHOR_END: guidance_sweep

impl GuidanceReport {
    /// A Markdown table: one row per $w$ with the overall and per-digit shares (percent) and
    /// the FLD, then the floor and the ceiling.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let digits = self.rows.first().map_or(0, |r| r.per_digit_accuracy.len());
        let _ = write!(out, "| w | all |");
        for d in 0..digits {
            let _ = write!(out, " {d} |");
        }
        let _ = writeln!(out, " FLD |");
        let _ = write!(out, "|---:|---:|");
        for _ in 0..digits {
            let _ = write!(out, "---:|");
        }
        let _ = writeln!(out, "---:|");
        for r in &self.rows {
            let _ = write!(out, "| {} | {:.1}% |", r.w, 100.0 * r.accuracy);
            for a in &r.per_digit_accuracy {
                let _ = write!(out, " {:.0} |", 100.0 * a);
            }
            let _ = writeln!(out, " {:.2} |", r.quality.fld);
        }
        let _ = writeln!(
            out,
            "\n{} samples per digit and per w ({}); FLD floor (real digits) {:.2}, ceiling (noise) {:.2}.",
            self.samples_per_digit, self.sampler, self.floor.fld, self.ceiling.fld
        );
        out
    }

    /// Share of samples classified as the requested digit against $w$, overall and for the
    /// worst digit: chapter 18's first figure ([`Self::fld_chart`] is the second).
    pub fn accuracy_chart(&self) -> crate::figures::LineChart {
        use crate::figures::{LineChart, Series};
        let points = self
            .rows
            .iter()
            .map(|r| (r.w, 100.0 * r.accuracy))
            .collect();
        let worst = self
            .rows
            .iter()
            .map(|r| {
                let min = r
                    .per_digit_accuracy
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                (r.w, 100.0 * min)
            })
            .collect();
        LineChart::new(
            format!(
                "Samples classified as the requested digit ({} per digit)",
                self.samples_per_digit
            ),
            "guidance weight w",
            "percent of samples",
        )
        .series(Series::line("all digits", points))
        .series(Series::dashed("worst digit", worst))
        .y_range(0.0, 100.0)
    }

    /// FLD of all samples against $w$, with the floor (real digits) dashed.
    pub fn fld_chart(&self) -> crate::figures::LineChart {
        use crate::figures::{LineChart, Series};
        let points: Vec<(f64, f64)> = self.rows.iter().map(|r| (r.w, r.quality.fld)).collect();
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.0), hi.max(p.0))
            });
        let mut chart = LineChart::new(
            "Sample quality against guidance weight",
            "guidance weight w",
            "FLD to the test digits (lower is better)",
        )
        .series(Series::line("guided samples", points));
        if lo.is_finite() {
            chart = chart.series(Series::dashed(
                "floor (real digits)",
                vec![(lo, self.floor.fld), (hi, self.floor.fld)],
            ));
        }
        chart
    }
}

// ANCHOR: conditioning_cli
/// Applies `ddpm train --conditional [--label-dropout P] [--init-weights DIR]` to `config`:
/// `num_classes` classes (10 for MNIST) and the dropout rate (default
/// [`DEFAULT_LABEL_DROPOUT`]). Without `conditional`, a dropout rate is an error, since it
/// would be ignored.
///
/// # Errors
/// A message saying to add `--conditional`.
pub fn apply_conditioning(
    config: &mut TrainingConfig,
    conditional: bool,
    label_dropout: Option<f64>,
    num_classes: usize,
) -> Result<(), String> {
    match (conditional, label_dropout) {
        (false, Some(p)) => Err(format!(
            "--label-dropout {p} only applies to a conditional run: add --conditional"
        )),
        (false, None) => Ok(()),
        (true, p) => {
            config.model.num_classes = Some(num_classes);
            config.label_dropout = Some(p.unwrap_or(DEFAULT_LABEL_DROPOUT));
            Ok(())
        }
    }
}

/// The label dropout rate of `ddpm train --conditional` without `--label-dropout` (Ho &
/// Salimans 2022 found 0.1 and 0.2 about equally good on ImageNet 64x64).
pub const DEFAULT_LABEL_DROPOUT: f64 = 0.1;

/// The labels `ddpm sample` asks for: `None` for an unconditional network without `--digit`
/// (plain sampling); `count` copies of the digit with `--digit`; and for a conditional
/// network without `--digit`, one row per digit of `count / num_classes` images (at least 1).
///
/// # Errors
/// [`LabelError`] for a digit that is not a number or out of range, or a `--digit` on an
/// unconditional network.
///
/// ```
/// use ddpm::workflows::conditional::requested_labels;
/// assert_eq!(requested_labels(None, None, 4).unwrap(), None);
/// assert_eq!(requested_labels(Some(10), Some("7"), 3).unwrap(), Some(vec![7, 7, 7]));
/// assert_eq!(requested_labels(Some(10), None, 20).unwrap().unwrap()[..3], [0, 0, 1]);
/// assert!(requested_labels(Some(10), Some("10"), 3).is_err());
/// assert!(requested_labels(None, Some("7"), 3).is_err());
/// ```
pub fn requested_labels(
    num_classes: Option<usize>,
    digit: Option<&str>,
    count: usize,
) -> Result<Option<Vec<usize>>, LabelError> {
    match (num_classes, digit) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(LabelError::Unconditional),
        (Some(n), Some(text)) => {
            let d = crate::network::conditional::parse_label(text, n)?;
            Ok(Some(vec![d; count]))
        }
        (Some(n), None) => Ok(Some(digit_rows(n, (count / n).max(1)))),
    }
}

/// Parses a comma-separated list of guidance weights (`0,0.5,1,2,4`).
///
/// # Errors
/// A message naming the entry that is not a finite number.
pub fn parse_guidance_weights(list: &str) -> Result<Vec<f64>, String> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|w| w.is_finite())
                .ok_or_else(|| {
                    format!("guidance weight {s:?} is not a finite number; give e.g. 0,0.5,1,2,4")
                })
        })
        .collect()
}
// ANCHOR_END: conditioning_cli

/// The guidance weight of `ddpm sample` on a conditional network without `--guidance`.
pub const DEFAULT_SAMPLE_GUIDANCE: f64 = 2.0;
