//! Grader for chapter 18's exercises: guidance against the library's tensor version
//! (`ddpm::network::guided_noise`), and the guided score of a two-Gaussian toy model against
//! Bayes' rule for scores, $\nabla\log p(x\mid y) + w\,\nabla\log p(y\mid x)$, computed by
//! central finite differences of log-densities written out here. Each test panics on the
//! unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(all(feature = "burn", not(feature = "solutions")))]
#[path = "../src/exercises/ch18.rs"]
mod ch18;
#[cfg(all(feature = "burn", feature = "solutions"))]
#[path = "../solutions/ch18.rs"]
mod ch18;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch18.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch18.rs");

/// The exercise file may not call the library (which computes the answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch18", EXERCISE_FILE);
}

/// Exercise 18.1 is graded against the library's tensor version, which needs burn; fail rather
/// than pass with no test at all.
#[cfg(not(feature = "burn"))]
#[test]
fn needs_the_burn_feature() {
    panic!("chapter 18's graders need the burn feature: grade without --no-default-features");
}

#[cfg(feature = "burn")]
mod graders {
    use super::ch18;
    use burn::prelude::*;

    #[test]
    fn exercise_18_1_guided_noise() {
        let device = Device::flex();
        let c = vec![0.3, -1.2, 2.0, 0.0, 5.5];
        let u = vec![-0.7, 0.4, 2.0, 1.0, -2.5];
        let tensor = |v: &[f64]| {
            let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::<4>::from_data(TensorData::new(data, [1, 1, 1, 5]), &device)
        };
        for w in [0.0, 0.5, 1.0, 2.0, 4.0, -1.0] {
            let yours = ch18::guided_noise(&c, &u, w);
            let library = ddpm::network::guided_noise(tensor(&c), tensor(&u), w)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            assert_eq!(yours.len(), 5);
            for (a, b) in yours.iter().zip(&library) {
                assert!((a - f64::from(*b)).abs() < 1e-5, "w = {w}: {a} vs {b}");
            }
        }
        // w = 0 is the conditional prediction, w = -1 the unconditional one.
        assert_eq!(ch18::guided_noise(&c, &u, 0.0), c);
        assert_eq!(ch18::guided_noise(&c, &u, -1.0), u);
    }

    /// log N(x; m, s^2).
    fn log_normal(x: f64, m: f64, s: f64) -> f64 {
        -0.5 * ((x - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
    }

    /// log p(y | x) for equally likely classes, by Bayes' rule.
    fn log_posterior(x: f64, y: usize, means: [f64; 2], s: f64) -> f64 {
        let a = log_normal(x, means[0], s);
        let b = log_normal(x, means[1], s);
        let top = a.max(b);
        let log_evidence = top + ((a - top).exp() + (b - top).exp()).ln();
        [a, b][y] - log_evidence
    }

    #[test]
    fn exercise_18_2_guided_score_is_bayes_rule_for_scores() {
        let means = [-1.0, 2.0];
        let s = 0.8;
        let h = 1e-5;
        let d = |f: &dyn Fn(f64) -> f64, x: f64| (f(x + h) - f(x - h)) / (2.0 * h);
        for &x in &[-3.0, -1.0, 0.0, 0.4, 1.5, 3.5] {
            for y in 0..2 {
                for &w in &[0.0, 1.0, 3.0] {
                    let conditional = d(&|x| log_normal(x, means[y], s), x);
                    let classifier = d(&|x| log_posterior(x, y, means, s), x);
                    let expected = conditional + w * classifier;
                    let yours = ch18::guided_score(x, y, w, means, s);
                    assert!(
                        (yours - expected).abs() < 1e-5 * (1.0 + expected.abs()),
                        "x = {x}, y = {y}, w = {w}: {yours} vs {expected}"
                    );
                }
            }
        }
    }
}
