//! Tests for `ddpm::diffusion::{reverse, mixture}` (chapter 8): the exact optimal denoiser of a
//! Gaussian mixture, checked against brute force on a grid, and ancestral sampling with it,
//! checked against the mixture's weights, means and covariances by seeded Monte Carlo.

use ddpm::diffusion::forward::q_sample;
use ddpm::diffusion::mixture::GaussianMixture;
use ddpm::diffusion::reverse::{
    ReverseOptions, VarianceKind, mean_from_noise, p_mean_variance, p_sample_loop,
    predict_start_from_noise,
};
use ddpm::diffusion::schedule::NoiseSchedule;
use ndarray::{Array2, Ix2, arr1, arr2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod common;
use common::assert_matches_mixture;

fn normal_pdf(x: f64, mean: f64, var: f64) -> f64 {
    (-(x - mean).powi(2) / (2.0 * var)).exp() / (2.0 * std::f64::consts::PI * var).sqrt()
}

/// The book's 1-D mixture density, written out independently of the library.
fn book_1d_pdf(x0: f64) -> f64 {
    0.3 * normal_pdf(x0, -1.5, 0.25f64.powi(2))
        + 0.5 * normal_pdf(x0, 0.3, 0.35f64.powi(2))
        + 0.2 * normal_pdf(x0, 1.6, 0.15f64.powi(2))
}

/// q_t(x) = integral of p(x0) N(x; sqrt(abar) x0, 1 - abar) dx0, by a Riemann sum over x0 on
/// [-4, 4] with 40,001 points (spectrally accurate for these smooth, fast-decaying
/// integrands), and E[x0 | x_t] from the same grid (Bayes' rule).
fn grid_noised(abar: f64, x: f64) -> (f64, f64) {
    let n = 40_001;
    let h = 8.0 / (n - 1) as f64;
    let (mut z, mut m1) = (0.0, 0.0);
    for k in 0..n {
        let x0 = -4.0 + k as f64 * h;
        let w = book_1d_pdf(x0) * normal_pdf(x, abar.sqrt() * x0, 1.0 - abar) * h;
        z += w;
        m1 += w * x0;
    }
    (z, m1 / z)
}

#[test]
fn noised_density_and_posterior_mean_match_grid() {
    let m = GaussianMixture::book_1d();
    for abar in [0.999, 0.9, 0.5, 0.1, 0.01] {
        let q = m.noised(abar);
        for x in [-1.7, -0.3, 0.0, 0.9, 1.6] {
            let (dens, post_mean) = grid_noised(abar, x);
            let exact = q.density(arr1(&[x]).view());
            assert!(
                (exact - dens).abs() < 1e-9,
                "abar={abar} x={x}: {exact} vs {dens}"
            );
            let pm = m.posterior_mean_x0(abar, &arr2(&[[x]]))[[0, 0]];
            assert!(
                (pm - post_mean).abs() < 1e-7,
                "abar={abar} x={x}: {pm} vs {post_mean}"
            );
        }
    }
}

/// Tweedie: E[eps | x_t] = -sqrt(1 - abar) grad log q_t(x_t). The two sides are computed by
/// different code paths (posterior mean of x0 vs the score of the noised mixture).
#[test]
fn optimal_noise_is_scaled_score() {
    let m = GaussianMixture::book_2d();
    let x = arr2(&[[0.3, -0.2], [-1.0, -0.9], [1.4, 1.1], [0.0, 0.0]]);
    for abar in [0.99, 0.5, 0.05] {
        let eps = m.optimal_noise(abar, &x);
        let score = m.noised(abar).score(&x);
        for (e, s) in eps.iter().zip(score.iter()) {
            assert!((e + (1.0 - abar).sqrt() * s).abs() < 1e-10, "abar={abar}");
        }
    }
}

/// The score of the mixture against central finite differences of its log-density.
#[test]
fn score_matches_finite_differences() {
    let m = GaussianMixture::book_2d();
    let h = 1e-5;
    for p in [[0.3, -0.2], [-1.0, -0.9], [0.5, 1.0]] {
        let s = m.score(&arr2(&[p]));
        for d in 0..2 {
            let (mut a, mut b) = (p, p);
            a[d] += h;
            b[d] -= h;
            let fd = (m.log_density(arr1(&a).view()) - m.log_density(arr1(&b).view())) / (2.0 * h);
            assert!((s[[0, d]] - fd).abs() < 1e-6, "{fd} vs {}", s[[0, d]]);
        }
    }
}

/// The optimal denoiser minimises the noise-prediction error: on noised mixture samples its
/// mean squared error is below that of slightly perturbed predictors.
#[test]
fn optimal_noise_minimises_mse() {
    let m = GaussianMixture::book_1d();
    let s = NoiseSchedule::linear(1000).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x0 = m.sample(20_000, &mut rng);
    let eps = ddpm::diffusion::forward::standard_normal(x0.raw_dim(), &mut rng);
    let t = 300;
    let xt = q_sample(&s, &x0, t, &eps);
    let best = m.optimal_noise(s.alpha_bar()[t - 1], &xt);
    let mse = |pred: &Array2<f64>| (pred - &eps).mapv(|v| v * v).mean().unwrap();
    let opt = mse(&best);
    assert!(opt < mse(&(&best * 1.05)) && opt < mse(&(&best * 0.95)));
    assert!(opt < mse(&(&best + 0.05)) && opt < mse(&(&best - 0.05)));
    // and far below predicting zero (which costs E[eps^2] = 1)
    assert!(opt < 0.5 * mse(&Array2::zeros(eps.raw_dim())));
}

#[test]
fn mean_routes_agree_without_clipping() {
    let s = NoiseSchedule::cosine(1000).unwrap();
    let (xt, eps) = (arr1(&[0.3, -2.0, 1.7]), arr1(&[0.5, 0.1, -1.2]));
    for t in [1usize, 2, 50, 999, 1000] {
        for kind in [VarianceKind::Beta, VarianceKind::PosteriorBeta] {
            let p = p_mean_variance(&s, &xt, t, &eps, ReverseOptions::unclipped(kind));
            let direct = mean_from_noise(&s, &xt, t, &eps);
            for (a, b) in p.mean.iter().zip(direct.iter()) {
                assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "t={t}: {a} vs {b}");
            }
            let x0 = predict_start_from_noise(&s, &xt, t, &eps);
            assert_eq!(p.pred_x_start, x0);
        }
    }
}

#[test]
fn clipping_bounds_the_predicted_start() {
    let s = NoiseSchedule::linear(1000).unwrap();
    let p = p_mean_variance(
        &s,
        &arr1(&[3.0, -3.0]),
        10,
        &arr1(&[0.0, 0.0]),
        ReverseOptions::images(),
    );
    assert_eq!(p.pred_x_start, arr1(&[1.0, -1.0]));
}

/// 20,000 ancestral samples with the exact denoiser reproduce the 2-D mixture. To keep the
/// test fast in the dev profile it uses a cosine schedule with T = 200 (the cosine schedule
/// is defined for any T; the linear one would need its betas rescaled) and sigma_t^2 = beta_t.
/// (With sigma_t^2 = beta_tilde_t and only 200 steps the component variances come out about 7%
/// too small: each step's true reverse variance exceeds beta_tilde_t; see chapter 8.)
#[test]
fn ancestral_sampling_with_exact_denoiser_reproduces_2d_mixture() {
    let m = GaussianMixture::book_2d();
    let s = NoiseSchedule::cosine(200).unwrap();
    let den = m.denoiser(&s);
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let options = ReverseOptions::unclipped(VarianceKind::Beta);
    let x = p_sample_loop(&s, &den, Ix2(20_000, 2), options, &mut rng);
    assert_matches_mixture(&m, &x, "ancestral, sigma^2 = beta");
}

/// The same in 1-D: weights and per-component mean and variance.
#[test]
fn ancestral_sampling_with_exact_denoiser_reproduces_1d_mixture() {
    let m = GaussianMixture::book_1d();
    let s = NoiseSchedule::cosine(200).unwrap();
    let den = m.denoiser(&s);
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let x = p_sample_loop(
        &s,
        &den,
        Ix2(20_000, 1),
        ReverseOptions::unclipped(VarianceKind::Beta),
        &mut rng,
    );
    let labels = m.classify(&x);
    for k in 0..3 {
        let v: Vec<f64> = (0..x.nrows())
            .filter(|&r| labels[r] == k)
            .map(|r| x[[r, 0]])
            .collect();
        let nk = v.len() as f64;
        let w = m.weights()[k];
        assert!((nk / 20_000.0 - w).abs() < 4.0 * (w * (1.0 - w) / 20_000.0).sqrt());
        let mean = v.iter().sum::<f64>() / nk;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nk - 1.0);
        let s2 = m.covariances()[k][[0, 0]];
        assert!(
            (mean - m.means()[k][0]).abs() < 4.0 * (s2 / nk).sqrt(),
            "mean {k}"
        );
        assert!(
            (var - s2).abs() < 4.0 * s2 * (2.0 / nk).sqrt(),
            "var {k}: {var} vs {s2}"
        );
    }
}

/// Mean and variance of the normalised density `f` on a uniform grid over [lo, hi].
fn grid_moments(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> (f64, f64) {
    let h = (hi - lo) / (n - 1) as f64;
    let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let y = lo + k as f64 * h;
        let w = f(y);
        z += w;
        m1 += w * y;
        m2 += w * y * y;
    }
    let mean = m1 / z;
    (mean, m2 / z - mean * mean)
}

/// Chapter 8: the true reverse step q(x_{t-1} | x_t) has variance
/// beta_tilde_t + coef1^2 Var[x_0 | x_t], more than beta_tilde_t. Brute force on a grid of
/// 240,001 points over [-6, 6] (spacing 5e-5, at least 60 points per posterior standard
/// deviation here), with the book's 1-D mixture density written out independently:
/// - Var[x_0 | x_t] from p(x_0) N(x_t; sqrt(abar_t) x_0, 1 - abar_t);
/// - Var[x_{t-1} | x_t] from q_{t-1}(x_{t-1}) N(x_t; sqrt(alpha_t) x_{t-1}, beta_t), where
///   q_{t-1} is the mixture noised to abar_{t-1} (each component N(sqrt(abar) mu, abar v + 1 - abar)).
///
/// Both agree with `posterior_variance_x0` / `reverse_step_variance` to 1e-6 relative, and the
/// excess over beta_tilde_t is more than 100 times that tolerance, so the coef1^2 term is
/// needed to pass.
#[test]
fn true_reverse_variance_exceeds_beta_tilde() {
    let m = GaussianMixture::book_1d();
    let s = NoiseSchedule::cosine(100).unwrap();
    let comps = [(0.3, -1.5, 0.0625), (0.5, 0.3, 0.1225), (0.2, 1.6, 0.0225)];
    let noised_pdf = |y: f64, abar: f64| -> f64 {
        comps
            .iter()
            .map(|&(w, mu, v)| w * normal_pdf(y, abar.sqrt() * mu, abar * v + 1.0 - abar))
            .sum()
    };
    for t in [2usize, 10, 50, 90] {
        let i = t - 1;
        let (abar, abar_prev) = (s.alpha_bar()[i], s.alpha_bar_prev()[i]);
        let (alpha, beta) = (s.alpha()[i], s.beta()[i]);
        let xt = arr2(&[[-1.2], [0.5], [1.4]]);
        let var_x0 = m.posterior_variance_x0(abar, &xt);
        let var_step = m.reverse_step_variance(&s, t, &xt);
        for r in 0..3 {
            let x = xt[[r, 0]];
            let (_, gv0) = grid_moments(
                |y| book_1d_pdf(y) * normal_pdf(x, abar.sqrt() * y, 1.0 - abar),
                -6.0,
                6.0,
                240_001,
            );
            assert!(
                ((var_x0[r] - gv0) / gv0).abs() < 1e-6,
                "t={t}, x={x}: {} vs {gv0}",
                var_x0[r]
            );
            let (_, gv) = grid_moments(
                |y| noised_pdf(y, abar_prev) * normal_pdf(x, alpha.sqrt() * y, beta),
                -6.0,
                6.0,
                240_001,
            );
            assert!(
                ((var_step[r] - gv) / gv).abs() < 1e-6,
                "t={t}, x={x}: {} vs {gv}",
                var_step[r]
            );
            let excess = var_step[r] - s.posterior_variance()[i];
            assert!(excess > 1e-4 * gv, "t={t}, x={x}: excess {excess} of {gv}");
        }
    }
}

/// Chapter 8 (Ho et al. Sec. 3.2): sigma_t^2 = beta_t is the true reverse-step variance when
/// x_0 ~ N(0, 1) (then x_{t-1} ~ N(0, 1) and x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) eps, so
/// Var[x_{t-1} | x_t] = 1 - alpha_t = beta_t by the Gaussian conditioning formula), and
/// sigma_t^2 = beta_tilde_t is the true one when x_0 is a single point (a component of standard
/// deviation 1e-8: Var[x_0 | x_t] ~ 1e-16). `reverse_step_variance` (law of total variance over
/// the mixture machinery) must reproduce both at every t, to 1e-9 relative; for any data the
/// true variance is at least beta_tilde_t.
#[test]
fn beta_and_beta_tilde_are_the_extreme_reverse_variances() {
    let s = NoiseSchedule::linear(1000).unwrap();
    let standard = GaussianMixture::one_d(&[1.0], &[0.0], &[1.0]).unwrap();
    let point = GaussianMixture::one_d(&[1.0], &[0.4], &[1e-8]).unwrap();
    let xt = arr2(&[[-2.0], [0.1], [1.3]]);
    for t in [2usize, 5, 50, 500, 1000] {
        let (beta, beta_tilde) = (s.beta()[t - 1], s.posterior_variance()[t - 1]);
        for v in standard.reverse_step_variance(&s, t, &xt) {
            assert!(
                ((v - beta) / beta).abs() < 1e-9,
                "t={t}: {v} vs beta {beta}"
            );
        }
        for v in point.reverse_step_variance(&s, t, &xt) {
            assert!(
                ((v - beta_tilde) / beta_tilde).abs() < 1e-9,
                "t={t}: {v} vs {beta_tilde}"
            );
        }
        for v in GaussianMixture::book_1d().reverse_step_variance(&s, t, &xt) {
            assert!(beta_tilde < v, "t={t}: {v}");
        }
    }
}
