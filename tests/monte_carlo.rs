//! Chapter 4: Monte Carlo estimates, their standard errors, and the 1/sqrt(K) rate.

use approx::assert_abs_diff_eq;
use ddpm::probability::monte_carlo::{fit_line, from_values, monte_carlo_kl, rmse};
use ddpm::probability::{Gaussian, ProbabilityError, monte_carlo};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn estimate_and_standard_error_match_hand_computation() {
    // values 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7, SE sqrt(32/7/8).
    let e = from_values(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
    assert_eq!(e.estimate, 5.0);
    assert_abs_diff_eq!(e.std_error, (32.0f64 / 7.0 / 8.0).sqrt(), epsilon = 1e-15);
    assert_eq!(e.samples, 8);
    assert_eq!(from_values(&[3.0]).unwrap().std_error, f64::INFINITY);
}

#[test]
fn zero_samples_is_an_error() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert_eq!(from_values(&[]), Err(ProbabilityError::NoSamples));
    assert_eq!(
        monte_carlo(0, &mut rng, |_| 1.0),
        Err(ProbabilityError::NoSamples)
    );
    let p = Gaussian::standard();
    assert!(monte_carlo_kl(&p, &p, 0, &mut rng).is_err());
    assert!(rmse(0.0, 0, &mut rng, |r| monte_carlo(1, r, |_| 0.0)).is_err());
    assert!(fit_line(&[1.0], &[1.0]).is_err());
    assert!(fit_line(&[1.0, 2.0], &[1.0]).is_err());
}

#[test]
fn standard_error_is_calibrated() {
    // Over many seeded repetitions, about 95.4% of estimates of E[x^2] = 1 (x ~ N(0,1))
    // fall within 2 standard errors. With 2000 repetitions, the binomial SE of that fraction
    // is sqrt(0.954 * 0.046 / 2000) = 0.0047; we allow 4 of those.
    let p = Gaussian::standard();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let reps = 2000;
    let mut inside = 0;
    for _ in 0..reps {
        let e = monte_carlo(200, &mut rng, |r| p.sample(r).powi(2)).unwrap();
        if e.within(1.0, 2.0) {
            inside += 1;
        }
    }
    let frac = inside as f64 / reps as f64;
    assert!(
        (frac - 0.954).abs() < 4.0 * 0.0047 + 0.005,
        "fraction {frac}"
    );
}

#[test]
fn error_falls_as_one_over_sqrt_k() {
    // Monte Carlo KL between two Gaussians; RMSE against the closed form over 400 seeded
    // repetitions per K; slope of log RMSE vs log K must be -1/2 within 0.1.
    let p = Gaussian::from_mean_std(0.0, 1.0).unwrap();
    let q = Gaussian::from_mean_std(1.0, 1.5).unwrap();
    let truth = p.kl(&q);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let ks = [16usize, 64, 256, 1024, 4096];
    let mut log_k = Vec::new();
    let mut log_err = Vec::new();
    for &k in &ks {
        let err = rmse(truth, 400, &mut rng, |r| monte_carlo_kl(&p, &q, k, r)).unwrap();
        log_k.push((k as f64).ln());
        log_err.push(err.ln());
    }
    let (slope, _) = fit_line(&log_k, &log_err).unwrap();
    println!("log-log slope = {slope:.4}");
    assert!((slope + 0.5).abs() < 0.1, "slope {slope}");
}

#[test]
fn fit_line_recovers_a_known_line() {
    let xs: Vec<f64> = (0..10).map(f64::from).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 3.0 - 0.5 * x).collect();
    let (b, a) = fit_line(&xs, &ys).unwrap();
    assert_abs_diff_eq!(b, -0.5, epsilon = 1e-13);
    assert_abs_diff_eq!(a, 3.0, epsilon = 1e-13);
}
