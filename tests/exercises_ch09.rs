//! Grader for chapter 9's exercises: compares with the library (`ddpm::diffusion::bound`).
//! Each test panics on the unimplemented stub.

use ddpm::diffusion::bound::{
    discretized_gaussian_log_likelihood, loss_weight, nats_to_bits, prior_kl,
};
use ddpm::diffusion::reverse::VarianceKind;
use ddpm::diffusion::schedule::NoiseSchedule;
use ddpm::exercises::ch09;
use ddpm::probability::LogVariance;

#[test]
fn exercise_9_1_prior_bits() {
    let s = NoiseSchedule::linear(1000).unwrap();
    for x0 in [-1.0, 0.0, 0.5, 1.0] {
        let want = nats_to_bits(prior_kl(&s, &ndarray::arr1(&[x0]))[0]);
        let got = ch09::prior_bits(s.alpha_bar()[999], x0);
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
    }
}

#[test]
fn exercise_9_2_loss_weight() {
    let s = NoiseSchedule::linear(1000).unwrap();
    for t in [2usize, 100, 1000] {
        let i = t - 1;
        for (kind, sigma2) in [
            (VarianceKind::Beta, s.beta()[i]),
            (VarianceKind::PosteriorBeta, s.posterior_variance()[i]),
        ] {
            let want = loss_weight(&s, t, kind);
            let got = ch09::loss_weight(s.beta()[i], s.alpha_bar()[i], sigma2);
            assert!((got / want - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn exercise_9_3_bin_probability() {
    for (mean, sd) in [(0.0, 0.1), (0.95, 0.05), (-1.0, 0.02)] {
        let lv = LogVariance::new(2.0 * f64::ln(sd)).unwrap();
        let mut total = 0.0;
        for k in 0..=255u8 {
            let x = 2.0 * f64::from(k) / 255.0 - 1.0;
            let want = discretized_gaussian_log_likelihood(x, mean, lv).exp();
            let got = ch09::bin_probability(k, mean, sd);
            assert!(
                (got - want).abs() < 1e-11 || want <= 1e-12,
                "k={k}: {got} vs {want}"
            );
            total += got;
        }
        assert!((total - 1.0).abs() < 1e-12);
    }
}
