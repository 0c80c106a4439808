//! Chapter 16: the sample-quality statistics of `ddpm::metrics` (Fréchet distance, Jacobi
//! eigensolver, confidence share, label entropy). Pure f64; no burn.

use approx::assert_abs_diff_eq;
use ddpm::metrics::{
    MetricsError, confident_share, frechet_distance, frechet_distance_of_features,
    histogram_entropy, label_histogram, mean_and_covariance, sqrtm_psd, symmetric_eigen,
};
use ndarray::{Array1, Array2, arr1, arr2};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// `n` draws of N(mean, L L^T), one per row.
fn gaussian_samples(n: usize, mean: &Array1<f64>, chol: &Array2<f64>, seed: u64) -> Array2<f64> {
    let d = mean.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z = Array2::from_shape_simple_fn((n, d), || StandardNormal.sample(&mut rng));
    z.dot(&chol.t()) + mean
}

/// Closed form of the Fréchet distance in two dimensions, independent of any eigensolver:
/// the eigenvalues of S1^{1/2} S2 S1^{1/2} are those of S1 S2, and for a 2x2 PSD matrix M,
/// (tr M^{1/2})^2 = tr M + 2 sqrt(det M). So
/// d^2 = |m1 - m2|^2 + tr S1 + tr S2 - 2 sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)).
fn frechet_2d(m1: &Array1<f64>, s1: &Array2<f64>, m2: &Array1<f64>, s2: &Array2<f64>) -> f64 {
    let det = |s: &Array2<f64>| s[[0, 0]] * s[[1, 1]] - s[[0, 1]] * s[[1, 0]];
    let diff = m1 - m2;
    let tr_prod = s1.dot(s2).diag().sum();
    diff.dot(&diff) + s1.diag().sum() + s2.diag().sum()
        - 2.0 * (tr_prod + 2.0 * (det(s1) * det(s2)).sqrt()).sqrt()
}

#[test]
fn jacobi_reconstructs_a_known_matrix() {
    // A 4x4 symmetric matrix with known spectrum {1, 2, 3, 4}, built as Q diag Q^T from the
    // Householder reflection Q = I - 2 u u^T / |u|^2 with u = (1, 1, 1, 1): Q has 1/2 on the
    // diagonal and -1/2 off it (orthogonal and symmetric).
    let q = Array2::from_shape_fn((4, 4), |(i, j)| if i == j { 0.5 } else { -0.5 });
    let lambda = arr1(&[1.0, 2.0, 3.0, 4.0]);
    let a = (&q * &lambda.view().insert_axis(ndarray::Axis(0))).dot(&q.t());
    let (values, vectors) = symmetric_eigen(a.view()).unwrap();
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    for (got, want) in sorted.iter().zip([1.0, 2.0, 3.0, 4.0]) {
        assert_abs_diff_eq!(*got, want, epsilon = 1e-12);
    }
    // V is orthonormal and A V = V diag(lambda).
    let identity = vectors.t().dot(&vectors);
    for ((i, j), v) in identity.indexed_iter() {
        assert_abs_diff_eq!(*v, if i == j { 1.0 } else { 0.0 }, epsilon = 1e-12);
    }
    let av = a.dot(&vectors);
    let vl = &vectors * &values.view().insert_axis(ndarray::Axis(0));
    for (x, y) in av.iter().zip(vl.iter()) {
        assert_abs_diff_eq!(*x, *y, epsilon = 1e-12);
    }
}

#[test]
fn jacobi_sqrt_matches_known_root() {
    // [[2, 1, 0], [1, 3, 1], [0, 1, 2]] squared by hand is [[5, 5, 1], [5, 11, 5], [1, 5, 5]];
    // the root of a PSD matrix is unique among PSD matrices, so sqrtm must return the former.
    let root = arr2(&[[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]]);
    let square = arr2(&[[5.0, 5.0, 1.0], [5.0, 11.0, 5.0], [1.0, 5.0, 5.0]]);
    let got = sqrtm_psd(square.view()).unwrap();
    for (g, w) in got.iter().zip(root.iter()) {
        assert_abs_diff_eq!(*g, *w, epsilon = 1e-12);
    }
}

#[test]
fn jacobi_handles_a_large_covariance() {
    // A 128x128 sample covariance (the classifier's feature size): eigenvalues must rebuild
    // the trace, and V diag(lambda) V^T the matrix.
    let d = 128;
    let x = gaussian_samples(300, &Array1::zeros(d), &Array2::eye(d), 7);
    let (_, cov) = mean_and_covariance(x.view()).unwrap();
    let (values, v) = symmetric_eigen(cov.view()).unwrap();
    assert_abs_diff_eq!(values.sum(), cov.diag().sum(), epsilon = 1e-9);
    let rebuilt = (&v * &values.view().insert_axis(ndarray::Axis(0))).dot(&v.t());
    let err = (&rebuilt - &cov).iter().fold(0.0f64, |m, e| m.max(e.abs()));
    assert!(err < 1e-10, "max reconstruction error {err:e}");
}

#[test]
fn eigen_rejects_asymmetric_and_non_square() {
    let a = arr2(&[[1.0, 2.0], [0.0, 1.0]]);
    assert!(matches!(
        symmetric_eigen(a.view()),
        Err(MetricsError::NotSymmetric(_))
    ));
    let b = Array2::<f64>::zeros((2, 3));
    assert!(matches!(
        symmetric_eigen(b.view()),
        Err(MetricsError::Shape(_))
    ));
    let c = arr2(&[[f64::NAN, 0.0], [0.0, 1.0]]);
    assert!(matches!(
        symmetric_eigen(c.view()),
        Err(MetricsError::NonFinite(_))
    ));
}

#[test]
fn frechet_of_a_set_against_itself_is_zero() {
    let chol = arr2(&[[1.0, 0.0, 0.0], [0.5, 1.0, 0.0], [-0.3, 0.2, 0.7]]);
    let x = gaussian_samples(500, &arr1(&[1.0, -2.0, 0.5]), &chol, 1);
    let d = frechet_distance_of_features(x.view(), x.view()).unwrap();
    assert!(d.abs() < 1e-9, "FD(x, x) = {d:e}");
}

#[test]
fn frechet_matches_the_2d_closed_form_for_non_commuting_covariances() {
    let m1 = arr1(&[0.0, 1.0]);
    let m2 = arr1(&[2.0, -1.0]);
    let s1 = arr2(&[[2.0, 0.8], [0.8, 1.0]]);
    let s2 = arr2(&[[0.5, -0.3], [-0.3, 1.5]]);
    let want = frechet_2d(&m1, &s1, &m2, &s2);
    let got = frechet_distance(m1.view(), s1.view(), m2.view(), s2.view()).unwrap();
    assert_abs_diff_eq!(got, want, epsilon = 1e-12);
}

#[test]
fn frechet_of_diagonal_gaussians_is_the_sum_of_squared_std_differences() {
    // Commuting (diagonal) covariances: d^2 = |m1 - m2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
    let a = [1.0, 4.0, 9.0];
    let b = [4.0, 1.0, 16.0];
    let m1 = arr1(&[0.0, 0.0, 0.0]);
    let m2 = arr1(&[1.0, 0.0, 2.0]);
    let want = 1.0 + 4.0 + (1.0 + 1.0 + 1.0);
    let got = frechet_distance(
        m1.view(),
        Array2::from_diag(&arr1(&a)).view(),
        m2.view(),
        Array2::from_diag(&arr1(&b)).view(),
    )
    .unwrap();
    assert_abs_diff_eq!(got, want, epsilon = 1e-12);
}

#[test]
fn frechet_of_gaussian_samples_approaches_the_closed_form() {
    // 20,000 draws from each of two 2-D Gaussians; the closed form is 9.156. The estimate's
    // spread is dominated by the mean term: sd(|m1_hat - m2_hat|^2) ~ 2 sqrt(D^T (S1 + S2) D / n)
    // with D = m1 - m2, D^T (S1 + S2) D = 17.08, n = 20,000, i.e. 0.058; the covariance terms'
    // spread and the O(d/n) bias are smaller. Tolerance 0.3 = about 5 standard deviations.
    let m1 = arr1(&[0.0, 1.0]);
    let m2 = arr1(&[2.0, -1.0]);
    let l1 = arr2(&[[1.5, 0.0], [0.6, 0.9]]);
    let l2 = arr2(&[[0.7, 0.0], [-0.4, 1.2]]);
    let s1 = l1.dot(&l1.t());
    let s2 = l2.dot(&l2.t());
    let want = frechet_2d(&m1, &s1, &m2, &s2);
    let x = gaussian_samples(20_000, &m1, &l1, 11);
    let y = gaussian_samples(20_000, &m2, &l2, 12);
    let got = frechet_distance_of_features(x.view(), y.view()).unwrap();
    assert_abs_diff_eq!(got, want, epsilon = 0.3);
}

#[test]
fn frechet_rejects_mismatched_inputs() {
    let x = Array2::<f64>::zeros((5, 3));
    let y = Array2::<f64>::zeros((5, 4));
    assert!(matches!(
        frechet_distance_of_features(x.view(), y.view()),
        Err(MetricsError::Shape(_))
    ));
    let one = Array2::<f64>::zeros((1, 3));
    assert!(matches!(
        frechet_distance_of_features(one.view(), x.view()),
        Err(MetricsError::TooFewSamples { rows: 1, .. })
    ));
}

#[test]
fn confidence_and_label_entropy() {
    // Hand-computed: rows' maxima 0.95, 0.9, 0.5, 0.99 -> 3 of 4 reach 0.9.
    let p = arr2(&[
        [0.95, 0.05, 0.0],
        [0.05, 0.9, 0.05],
        [0.5, 0.25, 0.25],
        [0.0, 0.01, 0.99],
    ]);
    assert_abs_diff_eq!(confident_share(p.view(), 0.9), 0.75);
    assert_eq!(label_histogram(p.view()), vec![2, 1, 1]);
    // H(1/2, 1/4, 1/4) = 1.5 ln 2.
    assert_abs_diff_eq!(
        histogram_entropy(&[2, 1, 1]),
        1.5 * 2f64.ln(),
        epsilon = 1e-15
    );
    assert_abs_diff_eq!(histogram_entropy(&[100; 10]), 10f64.ln(), epsilon = 1e-15);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn frechet_is_symmetric_and_non_negative(seed in 0u64..1_000, shift in -2.0f64..2.0) {
        let chol_a = arr2(&[[1.0, 0.0, 0.0], [0.3, 0.8, 0.0], [0.1, -0.2, 1.1]]);
        let chol_b = arr2(&[[0.6, 0.0, 0.0], [-0.2, 1.3, 0.0], [0.4, 0.1, 0.5]]);
        let a = gaussian_samples(50, &arr1(&[0.0, 0.0, 0.0]), &chol_a, seed);
        let b = gaussian_samples(60, &arr1(&[shift, 0.0, -shift]), &chol_b, seed + 1);
        let ab = frechet_distance_of_features(a.view(), b.view()).unwrap();
        let ba = frechet_distance_of_features(b.view(), a.view()).unwrap();
        prop_assert!(ab >= 0.0);
        prop_assert!((ab - ba).abs() < 1e-9 * (1.0 + ab), "{ab} vs {ba}");
    }
}
