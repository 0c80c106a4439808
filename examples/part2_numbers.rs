//! Prints the numbers quoted in Part II of the book (chapters 6-11), so that none is typed by
//! hand: `cargo run --release --no-default-features --example part2_numbers`.

use ddpm::diffusion::bound::{
    approx_standard_normal_cdf, loss_weight, min_snr_weights, nats_to_bits, prior_kl,
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

/// Per-component (weight, mean, variance) of 1-D samples, components assigned by maximum
/// responsibility.
fn component_stats(m: &GaussianMixture, x: &Array2<f64>) -> Vec<(f64, f64, f64)> {
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
            (n / x.nrows() as f64, mean, var)
        })
        .collect()
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
    for t in [1usize, 100, 250, 500, 750, 1000] {
        println!(
            "t = {t:4}: alpha_bar linear {:.4}, cosine {:.4}; SNR linear {:.3e}, cosine {:.3e}",
            lin.alpha_bar()[t - 1],
            cos.alpha_bar()[t - 1],
            lin.snr()[t - 1],
            cos.snr()[t - 1]
        );
    }
    println!("## Chapter 7");
    for t in [2usize, 10, 100, 1000] {
        let i = t - 1;
        println!(
            "t = {t:4}: coef1 {:.4}, coef2 {:.4}, beta_tilde/beta {:.4}",
            lin.posterior_mean_coef1()[i],
            lin.posterior_mean_coef2()[i],
            lin.posterior_variance()[i] / lin.beta()[i]
        );
    }
    println!("## Chapter 8: 1-D book mixture, 20,000 ancestral samples with the exact denoiser");
    let m1 = GaussianMixture::book_1d();
    println!(
        "truth: {:?}",
        (0..3)
            .map(|k| (
                m1.weights()[k],
                m1.means()[k][0],
                m1.covariances()[k][[0, 0]]
            ))
            .collect::<Vec<_>>()
    );
    for (t_steps, name) in [(100usize, "cosine T=100"), (1000, "cosine T=1000")] {
        let s = NoiseSchedule::cosine(t_steps)?;
        let den = m1.denoiser(&s);
        for kind in [VarianceKind::Beta, VarianceKind::PosteriorBeta] {
            let mut rng = ChaCha8Rng::seed_from_u64(8);
            let x = p_sample_loop(
                &s,
                &den,
                Ix2(20_000, 1),
                ReverseOptions::unclipped(kind),
                &mut rng,
            );
            let st = component_stats(&m1, &x);
            let fmt: Vec<String> = st
                .iter()
                .enumerate()
                .map(|(k, (w, mu, v))| {
                    format!(
                        "w {w:.3} mean {mu:.3} var/true {:.3}",
                        v / m1.covariances()[k][[0, 0]]
                    )
                })
                .collect();
            println!("{name}, {kind:?}: {}", fmt.join(" | "));
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
    for t in [2usize, 10, 100, 500, 1000] {
        println!(
            "weight t = {t:4}: sigma^2 = beta {:.4e}, sigma^2 = beta_tilde {:.4e}",
            loss_weight(&lin, t, VarianceKind::Beta),
            loss_weight(&lin, t, VarianceKind::PosteriorBeta)
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
    println!("## Chapter 10: 1-D book mixture, 20,000 samples, exact score, linear VP-SDE");
    let sde = VpSde::from_schedule(&lin);
    let score = |x: &Array2<f64>, tau: f64| m1.noised(sde.alpha_bar(tau)).score(x);
    for steps in [50usize, 250, 1000] {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let x1 = standard_normal(Ix2(20_000, 1), &mut rng);
        let x = reverse_sde_euler_maruyama(&sde, score, x1.clone(), steps, &mut rng)?;
        let y = probability_flow_heun(&sde, score, x1, steps / 5)?;
        for (name, z) in [
            (format!("SDE EM {steps} steps"), x),
            (format!("ODE Heun {} steps", steps / 5), y),
        ] {
            let st = component_stats(&m1, &z);
            let fmt: Vec<String> = st
                .iter()
                .enumerate()
                .map(|(k, (w, mu, v))| {
                    format!(
                        "w {w:.3} mean {mu:.3} var/true {:.3}",
                        v / m1.covariances()[k][[0, 0]]
                    )
                })
                .collect();
            println!("{name}: {}", fmt.join(" | "));
        }
    }
    Ok(())
}
