//! Prints the numbers quoted in Part II of the book (chapters 6-11), so that none is typed by
//! hand: `cargo run --release --no-default-features --example part2_numbers`.
//!
//! Lines that start with `|` are table rows exactly as the chapters show them;
//! `scripts/check.sh` checks that each one appears in a chapter, so a table cannot drift from
//! this output (saved in `chapters/output/part2-numbers.txt`).

use ddpm::diffusion::bound::{
    approx_standard_normal_cdf, bound_terms, loss_weight, min_snr_weights, nats_to_bits, prior_kl,
    standard_normal_cdf,
};
use ddpm::diffusion::forward::standard_normal;
use ddpm::diffusion::mixture::GaussianMixture;
use ddpm::diffusion::reverse::{ReverseOptions, VarianceKind, p_sample_loop};
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::diffusion::sde::{VpSde, probability_flow_heun, reverse_sde_euler_maruyama};
use ndarray::{Array2, Ix2, arr1};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Per-component (share, mean, variance, count) of 1-D samples, components assigned by maximum
/// responsibility.
fn component_stats(m: &GaussianMixture, x: &Array2<f64>) -> Vec<(f64, f64, f64, usize)> {
    let labels = m.classify(x);
    (0..m.weights().len())
        .map(|k| {
            let v: Vec<f64> = (0..x.nrows())
                .filter(|&r| labels[r] == k)
                .map(|r| x[[r, 0]])
                .collect();
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (n / x.nrows() as f64, mean, var, v.len())
        })
        .collect()
}

/// Each component's class variance in `x` over its class variance in the exact samples
/// `truth`, both classified the same way (classification alone makes the class variances
/// differ from the components' variances, so a perfect sampler scores 1 only against this
/// truth), as "r1 / r2 / r3", and the largest standard error of the ratios: the sample
/// variance of n normal draws has relative standard error sqrt(2 / (n - 1)), and the two
/// variances are independent.
fn ratios_to_truth(
    m: &GaussianMixture,
    x: &Array2<f64>,
    truth: &[(f64, f64, f64, usize)],
) -> (String, f64) {
    let st = component_stats(m, x);
    let mut se_max: f64 = 0.0;
    let parts: Vec<String> = st
        .iter()
        .zip(truth)
        .map(|(&(_, _, v, n), &(_, _, vt, nt))| {
            let rel_se = (2.0 / (n as f64 - 1.0) + 2.0 / (nt as f64 - 1.0)).sqrt();
            se_max = se_max.max(rel_se * v / vt);
            format!("{:.3}", v / vt)
        })
        .collect();
    (parts.join(" / "), se_max)
}

/// Four significant digits, in decimal notation.
fn sig4(x: f64) -> String {
    let decimals = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

/// A signal-to-noise ratio as chapter 6's table shows it: decimal in [0.1, 1000), else
/// scientific, four significant digits.
fn snr(x: f64) -> String {
    if (0.1..1000.0).contains(&x) {
        sig4(x)
    } else {
        format!("{x:.3e}")
    }
}

/// An alpha_bar as chapter 6's table shows it: four decimals, scientific below 1e-3.
fn abar(x: f64) -> String {
    if x < 1e-3 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

fn main() -> anyhow::Result<()> {
    let lin = NoiseSchedule::linear(1000)?;
    let cos = NoiseSchedule::cosine(1000)?;
    println!("## Chapter 6");
    println!(
        "linear: alpha_bar_T = {:.4e}, sum beta = {:.4}",
        lin.alpha_bar()[999],
        lin.beta().iter().sum::<f64>()
    );
    println!(
        "cosine: alpha_bar_T = {:.4e}, alpha_bar_999 = {:.4e}",
        cos.alpha_bar()[999],
        cos.alpha_bar()[998]
    );
    // t | alpha_bar linear | alpha_bar cosine | SNR linear | SNR cosine
    for t in [1usize, 100, 250, 500, 750, 1000] {
        println!(
            "| {t} | {} | {} | {} | {} |",
            abar(lin.alpha_bar()[t - 1]),
            abar(cos.alpha_bar()[t - 1]),
            snr(lin.snr()[t - 1]),
            snr(cos.snr()[t - 1])
        );
    }
    println!("## Chapter 7 (linear schedule)");
    // t | coef1 | coef2 | beta_tilde / beta
    for t in [2usize, 10, 100, 1000] {
        let i = t - 1;
        println!(
            "| {t} | {:.4} | {:.4} | {:.4} |",
            lin.posterior_mean_coef1()[i],
            lin.posterior_mean_coef2()[i],
            lin.posterior_variance()[i] / lin.beta()[i]
        );
    }
    println!("## Chapter 8: 1-D book mixture, 20,000 ancestral samples with the exact denoiser");
    let m1 = GaussianMixture::book_1d();
    // The classified truth: 200,000 exact draws of the mixture, classified as the samples are.
    let exact = m1.sample(200_000, &mut ChaCha8Rng::seed_from_u64(80));
    let truth = component_stats(&m1, &exact);
    println!(
        "exact samples, classified: class variance / component variance {}",
        truth
            .iter()
            .enumerate()
            .map(|(k, t)| format!("{:.3}", t.2 / m1.covariances()[k][[0, 0]]))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    // schedule | sigma^2 | variance ratios to the classified truth
    for t_steps in [100usize, 1000] {
        let s = NoiseSchedule::cosine(t_steps)?;
        let den = m1.denoiser(&s);
        for (kind, sigma) in [
            (VarianceKind::Beta, "$\\beta_t$"),
            (VarianceKind::PosteriorBeta, "$\\tilde\\beta_t$"),
        ] {
            let mut rng = ChaCha8Rng::seed_from_u64(8);
            let x = p_sample_loop(
                &s,
                &den,
                Ix2(20_000, 1),
                ReverseOptions::unclipped(kind),
                &mut rng,
            );
            let (ratios, se) = ratios_to_truth(&m1, &x, &truth);
            println!("| $T = {t_steps}$ | {sigma} | {ratios} |");
            println!("  (largest standard error of the three ratios: {se:.3})");
        }
    }
    println!("## Chapter 9");
    let lt = prior_kl(&lin, &arr1(&[1.0, 0.0]));
    println!(
        "L_T linear T=1000: x0 = +-1: {:.4e} nats = {:.4e} bits; x0 = 0: {:.4e} bits",
        lt[0],
        nats_to_bits(lt[0]),
        nats_to_bits(lt[1])
    );
    let lt_c = prior_kl(&cos, &arr1(&[1.0]));
    println!(
        "L_T cosine T=1000, x0 = +-1: {:.4e} bits",
        nats_to_bits(lt_c[0])
    );
    // t | weight, sigma^2 = beta | weight, sigma^2 = beta_tilde
    for t in [2usize, 10, 100, 500, 1000] {
        println!(
            "| {t} | {} | {} |",
            sig4(loss_weight(&lin, t, VarianceKind::Beta)),
            sig4(loss_weight(&lin, t, VarianceKind::PosteriorBeta))
        );
    }
    for gamma in [1.0, 5.0] {
        let w = min_snr_weights(&lin, gamma);
        // The weights never decrease with t: they are below 1 exactly on t = 1..=last.
        let last = w.iter().rposition(|&x| x < 1.0).map_or(0, |i| i + 1);
        println!(
            "min-SNR gamma = {gamma}: w_t < 1 for t <= {last}; w at t = 1, 10, 100: {:.2e}, \
             {:.2e}, {:.2e}; mean over t {:.3}",
            w[0],
            w[9],
            w[99],
            w.iter().sum::<f64>() / w.len() as f64
        );
    }
    let max_err = (-6000..=6000)
        .map(|k| k as f64 / 1000.0)
        .map(|x| (approx_standard_normal_cdf(x) - standard_normal_cdf(x)).abs())
        .fold(0.0, f64::max);
    println!("max |approx_cdf - cdf| on [-6, 6]: {max_err:.3e}");
    // The whole bound on one-pixel data with four grey levels and its exact denoiser (the
    // data and seed of tests/variational_bound.rs::bound_of_discrete_data_is_above_its_entropy).
    let levels = [
        -1.0,
        2.0 * 85.0 / 255.0 - 1.0,
        2.0 * 170.0 / 255.0 - 1.0,
        1.0,
    ];
    let probs = [0.1, 0.2, 0.3, 0.4];
    let entropy: f64 = -probs.iter().map(|p: &f64| p * p.log2()).sum::<f64>();
    let data = GaussianMixture::one_d(&probs, &levels, &[1e-3; 4])?;
    let s100 = NoiseSchedule::cosine(100)?;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (_, labels) = data.sample_with_labels(2000, &mut rng);
    let x0 = Array2::from_shape_fn((2000, 1), |(i, _)| levels[labels[i]]);
    let terms = bound_terms(
        &s100,
        &data.denoiser(&s100),
        &x0,
        VarianceKind::PosteriorBeta,
        &mut rng,
    );
    // L_T | sum of L_{t-1} | L_0 | L | H, in bits
    println!(
        "| {:.1e} | {:.4} | {:.4} | {:.4} | {entropy:.4} |",
        nats_to_bits(terms.prior),
        nats_to_bits(terms.kl.iter().sum()),
        nats_to_bits(terms.decoder),
        terms.bits_per_dim()
    );
    println!("## Chapter 10: 1-D book mixture, 20,000 samples, exact score, linear VP-SDE");
    let sde = VpSde::from_schedule(&lin);
    let score = |x: &Array2<f64>, tau: f64| m1.noised(sde.alpha_bar(tau)).score(x);
    // sampler | steps | score evaluations | variance ratios to the classified truth
    for steps in [50usize, 250, 1000] {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let noise = standard_normal(Ix2(20_000, 1), &mut rng);
        let x = reverse_sde_euler_maruyama(&sde, score, noise.clone(), steps, &mut rng)?;
        let y = probability_flow_heun(&sde, score, noise, steps / 5)?;
        for (name, n, evals, z) in [
            ("SDE, Euler-Maruyama", steps, steps, x),
            ("ODE, Heun", steps / 5, 2 * (steps / 5), y),
        ] {
            let (ratios, se) = ratios_to_truth(&m1, &z, &truth);
            println!("| {name} | {n} | {evals} | {ratios} |");
            println!("  (largest standard error of the three ratios: {se:.3})");
        }
    }
    Ok(())
}
