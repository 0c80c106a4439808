//! Gaussians: validation, density, entropy, sampling (chapters 2-5).

use approx::assert_abs_diff_eq;
use ddpm::ndarray::array;
use ddpm::probability::monte_carlo::from_values;
use ddpm::probability::{
    DiagGaussian, Gaussian, GaussianMixture, Grid, ProbabilityError, Variance,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn constructors_reject_bad_parameters() {
    assert!(matches!(
        Gaussian::new(f64::NAN, Variance::new(1.0).unwrap()),
        Err(ProbabilityError::NotFinite { .. })
    ));
    assert!(matches!(
        Gaussian::from_mean_std(0.0, 0.0),
        Err(ProbabilityError::Scalar(_))
    ));
    assert!(matches!(
        DiagGaussian::new(array![0.0, 1.0], array![1.0]),
        Err(ProbabilityError::LengthMismatch { .. })
    ));
    assert!(matches!(
        DiagGaussian::new(array![], array![]),
        Err(ProbabilityError::Empty { .. })
    ));
    assert!(matches!(
        DiagGaussian::new(array![0.0], array![f64::INFINITY]),
        Err(ProbabilityError::Scalar(_))
    ));
    assert!(matches!(
        DiagGaussian::new(array![f64::NAN], array![1.0]),
        Err(ProbabilityError::NotFinite { .. })
    ));
    assert!(matches!(
        GaussianMixture::new(vec![0.5, 0.6], vec![Gaussian::standard(); 2]),
        Err(ProbabilityError::NotNormalised { .. })
    ));
    assert!(matches!(
        GaussianMixture::new(vec![-0.5, 1.5], vec![Gaussian::standard(); 2]),
        Err(ProbabilityError::NegativeProbability { .. })
    ));
    let d = DiagGaussian::standard(2).unwrap();
    assert!(matches!(
        d.log_density(array![1.0, 2.0, 3.0].view()),
        Err(ProbabilityError::LengthMismatch { .. })
    ));
    assert!(matches!(
        GaussianMixture::new(vec![1.0], vec![]),
        Err(ProbabilityError::LengthMismatch { .. })
    ));
}

#[test]
fn density_matches_the_textbook_value_and_integrates_to_one() {
    // N(0; 0, 1) = 1/sqrt(2 pi) = 0.3989422804014327.
    assert_abs_diff_eq!(
        Gaussian::standard().density(0.0),
        0.398_942_280_401_432_7,
        epsilon = 1e-15
    );
    let p = Gaussian::from_mean_std(2.0, 0.7).unwrap();
    let grid = Grid::new(-10.0, 14.0, 24_001).unwrap();
    assert_abs_diff_eq!(grid.integrate(|x| p.density(x)), 1.0, epsilon = 1e-12);
    // Differential entropy = -integral of p log p.
    assert_abs_diff_eq!(
        grid.integrate(|x| -p.density(x) * p.log_density(x)),
        p.entropy(),
        epsilon = 1e-10
    );
}

#[test]
fn sample_moments_are_within_standard_errors() {
    let p = Gaussian::from_mean_std(-1.5, 2.0).unwrap();
    let xs = p.sample_n(&mut ChaCha8Rng::seed_from_u64(11), 100_000);
    let mean = from_values(&xs).unwrap();
    assert!(mean.within(-1.5, 4.0), "{mean:?}");
    let sq: Vec<f64> = xs.iter().map(|x| (x + 1.5).powi(2)).collect();
    let var = from_values(&sq).unwrap();
    assert!(var.within(4.0, 4.0), "{var:?}");
}

#[test]
fn diag_gaussian_is_a_product_of_univariate_ones() {
    let d = DiagGaussian::new(array![0.5, -1.0], array![2.0, 0.25]).unwrap();
    let e = DiagGaussian::new(array![0.0, 0.0], array![1.0, 1.0]).unwrap();
    let g0 = Gaussian::new(0.5, Variance::new(2.0).unwrap()).unwrap();
    let g1 = Gaussian::new(-1.0, Variance::new(0.25).unwrap()).unwrap();
    let x = array![0.1, 0.2];
    assert_abs_diff_eq!(
        d.log_density(x.view()).unwrap(),
        g0.log_density(0.1) + g1.log_density(0.2),
        epsilon = 1e-14
    );
    assert_abs_diff_eq!(d.entropy(), g0.entropy() + g1.entropy(), epsilon = 1e-14);
    let std = Gaussian::standard();
    assert_abs_diff_eq!(
        d.kl(&e).unwrap(),
        g0.kl(&std) + g1.kl(&std),
        epsilon = 1e-14
    );
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let samples: Vec<f64> = (0..50_000).map(|_| d.sample(&mut rng)[1]).collect();
    assert!(from_values(&samples).unwrap().within(-1.0, 4.0));
}

#[test]
fn mixture_density_integrates_to_one_and_samples_match_its_moments() {
    let p = GaussianMixture::chapter2_example();
    let grid = Grid::new(-12.0, 12.0, 24_001).unwrap();
    assert_abs_diff_eq!(grid.integrate(|x| p.density(x)), 1.0, epsilon = 1e-12);
    assert_abs_diff_eq!(
        grid.integrate(|x| x * p.density(x)),
        p.mean(),
        epsilon = 1e-12
    );
    // The score is the derivative of the log-density (central differences).
    for x in [-3.0, -0.5, 0.0, 1.7] {
        let h = 1e-5;
        let fd = (p.log_density(x + h) - p.log_density(x - h)) / (2.0 * h);
        assert_abs_diff_eq!(p.score(x), fd, epsilon = 1e-7);
    }
    let xs = p.sample_n(&mut ChaCha8Rng::seed_from_u64(3), 100_000);
    assert!(from_values(&xs).unwrap().within(p.mean(), 4.0));
    let right = xs.iter().filter(|&&x| x > 0.0).count() as f64 / xs.len() as f64;
    // P(x > 0) is about 0.3 (each mode is 3.3 std from 0); binomial SE = sqrt(0.21/1e5).
    assert!((right - 0.3).abs() < 4.0 * (0.21f64 / 1e5).sqrt() + 2e-3);
}
