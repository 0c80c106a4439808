//! Measuring a trained network (chapters 15-17): the variational bound on test digits in bits
//! per dimension, and sample quality measured with the MNIST [`Classifier`]. `ddpm eval` runs
//! these in order and reports them ([`super::eval_report`]).
//!
//! The bound calls Part II's functions ([`prior_kl`], [`posterior_kl`], [`decoder_nll`]) on
//! the network's noise predictions; nothing is re-derived here. The quality figures call
//! [`crate::metrics`] on the classifier's features and probabilities.

use ndarray::{Array1, Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::data::ImageSet;
use crate::diffusion::bound::{LN_2, decoder_nll, posterior_kl, prior_kl};
use crate::diffusion::forward::q_sample;
use crate::diffusion::reverse::VarianceKind;
use crate::diffusion::schedule::NoiseSchedule;
use crate::metrics::{
    MetricsError, confident_share, frechet_distance_of_features, histogram_entropy, label_histogram,
};
use crate::network::classifier::Classifier;

/// Everything that can stop an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A setting out of range.
    #[error("invalid setting {name} = {value}: {hint}")]
    Setting {
        /// Which option.
        name: &'static str,
        /// Its value, printed.
        value: String,
        /// What a valid value is.
        hint: &'static str,
    },
    /// A statistic could not be computed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The weights' schedule is invalid.
    #[error("the schedule in config.json is invalid: {0}")]
    Schedule(#[from] crate::diffusion::schedule::ScheduleError),
    /// A sampler setting is invalid.
    #[error("sampling failed: {0}")]
    Sampling(#[from] super::sample::SampleError),
}

/// How the sum over $t$ in the bound is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundMode {
    /// Every term $t = 1, \dots, T$ for each image: $T$ network evaluations per image.
    Exact,
    /// $L_T$ and $L_0$ exactly; $\sum_{t=2}^{T} L_{t-1}$ estimated without bias as
    /// $(T-1)$ times the mean of `timesteps_per_image` terms at $t \sim \mathrm{U}\{2..T\}$.
    Sampled {
        /// Timesteps drawn per image.
        timesteps_per_image: usize,
    },
}

/// Settings of [`variational_bound`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundOptions {
    /// Use the first this-many images of the set.
    pub images: usize,
    /// Exact or sampled sum over timesteps.
    pub mode: BoundMode,
    /// Images per network call.
    pub batch: usize,
    /// Seed of the forward-process noise and of the sampled timesteps.
    pub seed: u64,
}

/// The bound for one choice of $\sigma_t^2$, averaged over images, in bits per dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundParts {
    /// $\sigma_t^2 = \beta_t$ or $\tilde\beta_t$.
    pub variance: VarianceKind,
    /// $L = L_T + \sum_{t=2}^T L_{t-1} + L_0$ in bits/dim (an upper bound on $-\log_2 p(x_0)$
    /// per pixel).
    pub bits_per_dim: f64,
    /// Standard error of `bits_per_dim` over images (and, for the sampled mode, timesteps).
    pub standard_error: f64,
    /// $L_T$ (the prior term).
    pub prior_bpd: f64,
    /// $\sum_{t=2}^{T} L_{t-1}$ (the denoising KL terms).
    pub diffusion_bpd: f64,
    /// $L_0 = -\log p_\theta(x_0 \mid x_1)$ (the discretised decoder).
    pub decoder_bpd: f64,
    /// Exact mode only (empty when sampled): the term of each network timestep, averaged over
    /// images, in bits/dim. Entry `t - 1` is the term evaluated at timestep $t$: entry 0 is
    /// $L_0$, entry $t - 1$ for $t \ge 2$ is $L_{t-1}$. Their sum plus `prior_bpd` is
    /// `bits_per_dim`.
    #[serde(default)]
    pub terms_bpd: Vec<f64>,
}

/// What [`variational_bound`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundReport {
    /// Exact or sampled.
    pub mode: BoundMode,
    /// Images the bound averages over.
    pub images: usize,
    /// Network evaluations per image.
    pub evaluations_per_image: usize,
    /// One entry per $\sigma_t^2$: $\beta_t$ first, then $\tilde\beta_t$.
    pub parts: Vec<BoundParts>,
}

/// Pixels of `set`'s image `i` in $[-1, 1]$ as f64: $2b/255 - 1$, exactly on the decoder's grid.
fn image_f64(set: &ImageSet, i: usize) -> impl Iterator<Item = f64> + '_ {
    set.image(i)
        .iter()
        .map(|&b| 2.0 * f64::from(b) / 255.0 - 1.0)
}

/// Runs the network on host images: `x` is `[batch, pixels]`, `t` one timestep per row;
/// returns the predicted noise as `[batch, pixels]` f64.
fn predict<F>(
    eps_model: &F,
    x: &Array2<f64>,
    t: &[usize],
    side: usize,
    device: &Device,
) -> Array2<f64>
where
    F: Fn(Tensor<4>, Tensor<1>) -> Tensor<4>,
{
    let (batch, pixels) = x.dim();
    let values: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let x = Tensor::<4>::from_data(TensorData::new(values, [batch, 1, side, side]), device);
    let t: Vec<f32> = t.iter().map(|&t| t as f32).collect();
    let t = Tensor::<1>::from_data(TensorData::new(t, [batch]), device);
    let eps = eps_model(x, t) // [batch, 1, side, side]
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("f32 data");
    Array2::from_shape_vec((batch, pixels), eps.into_iter().map(f64::from).collect())
        .expect("the network keeps the image shape")
}

fn noise_like(rng: &mut ChaCha8Rng, shape: (usize, usize)) -> Array2<f64> {
    Array2::from_shape_simple_fn(shape, || StandardNormal.sample(rng))
}

const VARIANCES: [VarianceKind; 2] = [VarianceKind::Beta, VarianceKind::PosteriorBeta];

// ANCHOR: variational_bound
/// The variational bound (Ho et al. 2020, Eq. (5)) of `eps_model` on the first
/// `options.images` images of `data`, per image, then averaged:
///
/// $$L = \underbrace{D_\mathrm{KL}(q(x_T|x_0)\,\|\,p(x_T))}_{L_T} +
///   \sum_{t=2}^{T}\underbrace{D_\mathrm{KL}(q(x_{t-1}|x_t,x_0)\,\|\,p_\theta(x_{t-1}|x_t))}_{L_{t-1}}
///   \underbrace{-\log p_\theta(x_0|x_1)}_{L_0},$$
///
/// each term with one draw $x_t \sim q(x_t \mid x_0)$, converted to bits per dimension. Both
/// choices of $\sigma_t^2$ are scored on the same noise predictions.
///
/// `eps_model(x_t, t)` is the noise predictor: `x_t` `[batch, 1, side, side]`, `t` `[batch]`
/// (1-based, as floats).
///
/// # Errors
/// [`EvalError::Setting`] for zero images or batch, more images than `data` holds, or zero
/// sampled timesteps.
pub fn variational_bound<F>(
    eps_model: F,
    schedule: &NoiseSchedule,
    data: &ImageSet,
    options: &BoundOptions,
    device: &Device,
) -> Result<BoundReport, EvalError>
where
    F: Fn(Tensor<4>, Tensor<1>) -> Tensor<4>,
{
    let n = options.images;
    if n == 0 || n > data.len() {
        return Err(EvalError::Setting {
            name: "images",
            value: n.to_string(),
            hint: "use between 1 and the number of test images",
        });
    }
    if options.batch == 0 {
        return Err(EvalError::Setting {
            name: "batch",
            value: "0".into(),
            hint: "use at least 1 image per network call",
        });
    }
    if let BoundMode::Sampled {
        timesteps_per_image: 0,
    } = options.mode
    {
        return Err(EvalError::Setting {
            name: "timesteps_per_image",
            value: "0".into(),
            hint: "draw at least 1 timestep per image",
        });
    }
    let big_t = schedule.num_timesteps();
    let side = data.rows;
    let pixels = data.pixels_per_image();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    // Per image and per variance kind: L_T, sum of L_{t-1}, L_0 (nats summed over pixels).
    let mut prior = vec![0.0; n];
    let mut diffusion = [vec![0.0; n], vec![0.0; n]];
    let mut decoder = [vec![0.0; n], vec![0.0; n]];
    // Exact mode: per variance kind, the sum over images of the term at each timestep.
    let exact = options.mode == BoundMode::Exact;
    let mut per_t = [vec![0.0; big_t], vec![0.0; big_t]];
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(options.batch) {
        let b = chunk.len();
        let x_start = Array2::from_shape_vec(
            (b, pixels),
            chunk.iter().flat_map(|&i| image_f64(data, i)).collect(),
        )
        .expect("pixels per image");
        let lt = prior_kl(schedule, &x_start).sum_axis(Axis(1)); // [b]
        for (k, &i) in chunk.iter().enumerate() {
            prior[i] = lt[k];
        }
        // L_0 at t = 1.
        let x_1 = q_sample(schedule, &x_start, 1, &noise_like(&mut rng, (b, pixels)));
        let eps = predict(&eps_model, &x_1, &vec![1; b], side, device);
        for (v, &variance) in VARIANCES.iter().enumerate() {
            let l0 = decoder_nll(schedule, &x_start, &x_1, &eps, variance).sum_axis(Axis(1));
            for (k, &i) in chunk.iter().enumerate() {
                decoder[v][i] = l0[k];
            }
            per_t[v][0] += l0.sum();
        }
        match options.mode {
            BoundMode::Exact => {
                for t in 2..=big_t {
                    let x_t = q_sample(schedule, &x_start, t, &noise_like(&mut rng, (b, pixels)));
                    let eps = predict(&eps_model, &x_t, &vec![t; b], side, device);
                    for (v, &variance) in VARIANCES.iter().enumerate() {
                        let kl = posterior_kl(schedule, &x_start, &x_t, t, &eps, variance)
                            .sum_axis(Axis(1));
                        for (k, &i) in chunk.iter().enumerate() {
                            diffusion[v][i] += kl[k];
                        }
                        per_t[v][t - 1] += kl.sum();
                    }
                }
            }
            BoundMode::Sampled {
                timesteps_per_image,
            } => {
                let weight = (big_t - 1) as f64 / timesteps_per_image as f64;
                for _ in 0..timesteps_per_image {
                    if big_t < 2 {
                        break;
                    }
                    let ts: Vec<usize> = (0..b).map(|_| rng.random_range(2..=big_t)).collect();
                    let noise = noise_like(&mut rng, (b, pixels));
                    let mut x_t = Array2::zeros((b, pixels));
                    for (k, &t) in ts.iter().enumerate() {
                        let row = q_sample(schedule, &x_start.row(k), t, &noise.row(k));
                        x_t.row_mut(k).assign(&row);
                    }
                    let eps = predict(&eps_model, &x_t, &ts, side, device);
                    for (v, &variance) in VARIANCES.iter().enumerate() {
                        for (k, &i) in chunk.iter().enumerate() {
                            let kl = posterior_kl(
                                schedule,
                                &x_start.row(k),
                                &x_t.row(k),
                                ts[k],
                                &eps.row(k),
                                variance,
                            )
                            .sum();
                            diffusion[v][i] += weight * kl;
                        }
                    }
                }
            }
        }
    }
    let to_bpd = 1.0 / (pixels as f64 * LN_2);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64 * to_bpd;
    let parts = VARIANCES
        .iter()
        .enumerate()
        .map(|(v, &variance)| {
            let totals: Array1<f64> = (0..n)
                .map(|i| (prior[i] + diffusion[v][i] + decoder[v][i]) * to_bpd)
                .collect();
            let m = totals.mean().unwrap_or(0.0);
            let standard_error = if n > 1 {
                (totals.mapv(|x| (x - m).powi(2)).sum() / (n as f64 - 1.0) / n as f64).sqrt()
            } else {
                f64::NAN
            };
            BoundParts {
                variance,
                bits_per_dim: m,
                standard_error,
                prior_bpd: mean(&prior),
                diffusion_bpd: mean(&diffusion[v]),
                decoder_bpd: mean(&decoder[v]),
                terms_bpd: if exact {
                    per_t[v].iter().map(|&x| x / n as f64 * to_bpd).collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    let evaluations_per_image = match options.mode {
        BoundMode::Exact => big_t,
        BoundMode::Sampled {
            timesteps_per_image,
        } => 1 + timesteps_per_image,
    };
    Ok(BoundReport {
        mode: options.mode,
        images: n,
        evaluations_per_image,
        parts,
    })
}
// ANCHOR_END: variational_bound

/// The classifier's view of a set of images.
#[derive(Debug, Clone)]
pub struct ClassifierView {
    /// Penultimate-layer features, `[n, feature_dim]`.
    pub features: Array2<f64>,
    /// Class probabilities, `[n, classes]`.
    pub probabilities: Array2<f64>,
}

/// Runs `classifier` on `count` images (`images` row-major, `[count, side * side]`, in
/// $[-1, 1]$), 500 at a time.
pub fn classify(
    classifier: &Classifier,
    images: &[f32],
    count: usize,
    side: usize,
    device: &Device,
) -> ClassifierView {
    let pixels = side * side;
    let mut features = Vec::new();
    let mut probabilities = Vec::new();
    let mut widths = (0, 0);
    for start in (0..count).step_by(500) {
        let b = (count - start).min(500);
        let x = Tensor::<4>::from_data(
            TensorData::new(
                images[start * pixels..(start + b) * pixels].to_vec(),
                [b, 1, side, side],
            ),
            device,
        );
        let f = classifier.features(x); // [b, feature_dim]
        let p = softmax(classifier.logits_from_features(f.clone()), 1); // [b, classes]
        widths = (f.dims()[1], p.dims()[1]);
        let host = |t: Tensor<2>| t.into_data().try_into_vec_as::<f32>().expect("f32");
        features.extend(host(f).into_iter().map(f64::from));
        probabilities.extend(host(p).into_iter().map(f64::from));
    }
    ClassifierView {
        features: Array2::from_shape_vec((count, widths.0), features).expect("feature shape"),
        probabilities: Array2::from_shape_vec((count, widths.1), probabilities)
            .expect("probability shape"),
    }
}

/// The classifier's penultimate features of every image of `test` (the FLD reference).
pub fn reference_features(
    classifier: &Classifier,
    test: &ImageSet,
    device: &Device,
) -> Array2<f64> {
    classify(
        classifier,
        &set_images(test, test.len()),
        test.len(),
        test.rows,
        device,
    )
    .features
}

/// `set`'s first `n` images, row-major in $[-1, 1]$.
pub fn set_images(set: &ImageSet, n: usize) -> Vec<f32> {
    let indices: Vec<usize> = (0..n.min(set.len())).collect();
    set.symmetric_batch(&indices)
}

/// `count` images of pure Gaussian noise $\mathcal N(0, 1)$ clipped to $[-1, 1]$: what a model
/// that learned nothing would produce (the FLD ceiling).
pub fn noise_images(count: usize, pixels: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count * pixels)
        .map(|_| {
            let z: f32 = StandardNormal.sample(&mut rng);
            z.clamp(-1.0, 1.0)
        })
        .collect()
}

/// Quality statistics of one image set, seen by the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetQuality {
    /// Images used.
    pub count: usize,
    /// FLD to the test split's features.
    pub fld: f64,
    /// Share of images whose top class probability is at least 0.9.
    pub confident_share: f64,
    /// Entropy (nats) of the predicted-label histogram; $\ln 10 \approx 2.303$ is uniform.
    pub label_entropy: f64,
    /// Predicted-label histogram.
    pub label_histogram: Vec<usize>,
}

/// The confidence threshold of [`SetQuality::confident_share`].
pub const CONFIDENCE_THRESHOLD: f64 = 0.9;

/// Scores `images` (`count` of them) against the reference features `test_features`.
///
/// # Errors
/// [`EvalError::Metrics`] when fewer than 2 images are given or features are not finite.
pub fn set_quality(
    classifier: &Classifier,
    images: &[f32],
    count: usize,
    side: usize,
    test_features: &Array2<f64>,
    device: &Device,
) -> Result<SetQuality, EvalError> {
    let view = classify(classifier, images, count, side, device);
    let histogram = label_histogram(view.probabilities.view());
    Ok(SetQuality {
        count,
        fld: frechet_distance_of_features(view.features.view(), test_features.view())?,
        confident_share: confident_share(view.probabilities.view(), CONFIDENCE_THRESHOLD),
        label_entropy: histogram_entropy(&histogram),
        label_histogram: histogram,
    })
}

/// What every set of generated images is scored against, built once per sample size: the
/// classifier's features of the test split (the FLD reference), the floor (the first `count`
/// training digits) and the ceiling (`count` clipped-noise images), each scored from the same
/// number of images as the samples so that the FLD's finite-sample bias is comparable.
#[derive(Debug, Clone)]
pub struct QualityReference {
    /// Images per scored set.
    pub count: usize,
    /// Image side in pixels.
    pub side: usize,
    /// Test images that the FLDs compare against.
    pub test_images: usize,
    /// Penultimate features of the test split.
    pub test_features: Array2<f64>,
    /// Real training digits vs the test split: the best a model can score.
    pub floor: SetQuality,
    /// Noise vs the test split: what learning nothing scores.
    pub ceiling: SetQuality,
}

// ANCHOR: sample_quality
impl QualityReference {
    /// Computes the test features, the floor and the ceiling for sets of `count` images
    /// (`seed` draws the noise of the ceiling).
    ///
    /// # Errors
    /// [`EvalError::Setting`] for fewer than 2 images or more than there are training digits.
    pub fn new(
        classifier: &Classifier,
        train: &ImageSet,
        test: &ImageSet,
        count: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self, EvalError> {
        if count < 2 || count > train.len() {
            return Err(EvalError::Setting {
                name: "samples",
                value: count.to_string(),
                hint: "use between 2 and the number of training digits (7,996 embedded)",
            });
        }
        let side = test.rows;
        let test_features = reference_features(classifier, test, device);
        let score =
            |images: &[f32]| set_quality(classifier, images, count, side, &test_features, device);
        let floor = score(&set_images(train, count))?;
        let ceiling = score(&noise_images(count, side * side, seed))?;
        Ok(Self {
            count,
            side,
            test_images: test.len(),
            test_features,
            floor,
            ceiling,
        })
    }

    /// FLD, confident share and label entropy of `images` (`count` images in $[-1, 1]$).
    ///
    /// # Errors
    /// [`EvalError::Metrics`] when the features are not finite.
    pub fn score(
        &self,
        classifier: &Classifier,
        images: &[f32],
        device: &Device,
    ) -> Result<SetQuality, EvalError> {
        set_quality(
            classifier,
            images,
            self.count,
            self.side,
            &self.test_features,
            device,
        )
    }
}

/// Sample quality with its reference points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Test images that the FLDs compare against.
    pub test_images: usize,
    /// The generated samples.
    pub samples: SetQuality,
    /// The floor: as many training digits as samples (real vs real).
    pub floor: SetQuality,
    /// The ceiling: as many clipped Gaussian-noise images.
    pub ceiling: SetQuality,
}

/// FLD, confidence share and label entropy of `samples` (`count` images in $[-1, 1]$), beside
/// the floor and the ceiling of [`QualityReference`].
///
/// # Errors
/// [`EvalError`] for fewer than 2 samples or more samples than training digits.
pub fn sample_quality(
    classifier: &Classifier,
    samples: &[f32],
    count: usize,
    train: &ImageSet,
    test: &ImageSet,
    seed: u64,
    device: &Device,
) -> Result<QualityReport, EvalError> {
    let reference = QualityReference::new(classifier, train, test, count, seed, device)?;
    Ok(QualityReport {
        test_images: reference.test_images,
        samples: reference.score(classifier, samples, device)?,
        floor: reference.floor,
        ceiling: reference.ceiling,
    })
}
// ANCHOR_END: sample_quality
