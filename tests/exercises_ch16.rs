//! Grader for chapter 16's exercises: compares with `ddpm::metrics` (label histogram entropy,
//! confident share, and the Fréchet distance computed with the Jacobi eigensolver) on seeded
//! random inputs. Each test panics on the unimplemented stub.

mod exercise_support;

// The student's file; with `--features solutions`, the instructors' reference solution.
#[cfg(not(feature = "solutions"))]
#[path = "../src/exercises/ch16.rs"]
mod ch16;
#[cfg(feature = "solutions")]
#[path = "../solutions/ch16.rs"]
mod ch16;

#[cfg(not(feature = "solutions"))]
const EXERCISE_FILE: &str = include_str!("../src/exercises/ch16.rs");
#[cfg(feature = "solutions")]
const EXERCISE_FILE: &str = include_str!("../solutions/ch16.rs");

/// The exercise file may not call the library (which computes most answers): see
/// `exercise_support`. When this fails the grader scores the whole chapter 0.
#[test]
fn exercise_file_is_self_contained() {
    exercise_support::assert_self_contained("ch16", EXERCISE_FILE);
}

use ddpm::metrics::{confident_share, frechet_distance};
use ndarray::{Array1, Array2, arr1, arr2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

#[test]
fn exercise_16_1_label_entropy() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut sets: Vec<(Vec<usize>, usize)> = vec![
        ((0..1000).map(|i| i % 10).collect(), 10), // every digit equally often: ln 10
        (vec![3; 50], 10),                         // mode collapse: 0
        (vec![], 10),                              // empty: 0
        (vec![0, 0, 0, 1], 2),
    ];
    for (n, classes) in [(1000, 10), (37, 10), (500, 3)] {
        // Skewed: label k drawn with weight proportional to k + 1.
        let weights: Vec<usize> = (0..classes).map(|k| k + 1).collect();
        let total: usize = weights.iter().sum();
        let labels = (0..n)
            .map(|_| {
                let mut u = rng.random_range(0..total);
                weights
                    .iter()
                    .position(|&w| {
                        if u < w {
                            true
                        } else {
                            u -= w;
                            false
                        }
                    })
                    .unwrap()
            })
            .collect();
        sets.push((labels, classes));
    }
    for (labels, classes) in &sets {
        let mut counts = vec![0usize; *classes];
        for &l in labels {
            counts[l] += 1;
        }
        // Independent of any library code, and computed another way than the sum over shares:
        // H = -sum_k (n_k/n) ln(n_k/n) = ln n - (1/n) sum_k n_k ln n_k.
        let n = labels.len() as f64;
        let want = if labels.is_empty() {
            0.0
        } else {
            n.ln()
                - counts
                    .iter()
                    .filter(|&&c| c > 0)
                    .map(|&c| c as f64 * (c as f64).ln())
                    .sum::<f64>()
                    / n
        };
        let got = ch16::label_entropy(labels, *classes);
        assert!(
            (got - want).abs() < 1e-12,
            "counts {counts:?}: {got} vs {want}"
        );
    }
}

#[test]
fn exercise_16_2_confident_share() {
    let mut rng = ChaCha8Rng::seed_from_u64(162);
    // Softmax rows of random logits with spreads from flat to peaked, plus rows whose maximum
    // is exactly the threshold (which counts as confident).
    let mut rows: Vec<Vec<f64>> = (0..300)
        .map(|i| {
            let scale = 0.5 + (i % 7) as f64;
            let logits: Vec<f64> = (0..10)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    scale * z
                })
                .collect();
            let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
            let z: f64 = e.iter().sum();
            e.iter().map(|v| v / z).collect()
        })
        .collect();
    rows.push(vec![0.9, 0.1]);
    rows.push(vec![0.05, 0.9, 0.05]);
    for (take, threshold) in [(302, 0.9), (302, 0.5), (100, 0.99), (2, 0.9)] {
        let set: Vec<Vec<f64>> = rows[rows.len() - take..].to_vec();
        let width = set.iter().map(Vec::len).max().unwrap();
        let matrix = Array2::from_shape_fn((take, width), |(i, j)| {
            set[i].get(j).copied().unwrap_or(0.0)
        });
        let want = confident_share(matrix.view(), threshold);
        let got = ch16::confident_share(&set, threshold);
        assert_eq!(got, want, "{take} rows, threshold {threshold}");
    }
    assert_eq!(ch16::confident_share(&[], 0.9), 0.0);
}

#[test]
fn exercise_16_3_frechet_distance_diagonal() {
    let mut rng = ChaCha8Rng::seed_from_u64(163);
    for d in [1usize, 2, 5, 16] {
        let mut draw =
            |lo: f64, hi: f64| -> Vec<f64> { (0..d).map(|_| rng.random_range(lo..hi)).collect() };
        let (m1, m2) = (draw(-2.0, 2.0), draw(-2.0, 2.0));
        let (v1, v2) = (draw(0.01, 4.0), draw(0.01, 4.0));
        let want = frechet_distance(
            Array1::from(m1.clone()).view(),
            Array2::from_diag(&arr1(&v1)).view(),
            Array1::from(m2.clone()).view(),
            Array2::from_diag(&arr1(&v2)).view(),
        )
        .unwrap();
        let got = ch16::frechet_distance_diagonal(&m1, &v1, &m2, &v2);
        assert!(
            (got - want).abs() < 1e-9 * (1.0 + want),
            "d = {d}: {got} vs the library's {want}"
        );
        // Same distribution: 0.
        assert!(ch16::frechet_distance_diagonal(&m1, &v1, &m1, &v1).abs() < 1e-12);
    }
}

#[test]
fn exercise_16_4_frechet_distance_2d() {
    let mut rng = ChaCha8Rng::seed_from_u64(164);
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    for case in 0..50 {
        // Covariances L L^T from random lower-triangular L; every tenth one singular (rank 1).
        let mut cov = |singular: bool| -> [[f64; 2]; 2] {
            let (a, b) = (normal(), normal());
            let c = if singular { 0.0 } else { normal() };
            [[a * a, a * b], [a * b, b * b + c * c]]
        };
        let (c1, c2) = (cov(case % 10 == 0), cov(case % 10 == 5));
        let (m1, m2) = ([normal(), normal()], [normal(), normal()]);
        let want = frechet_distance(
            arr1(&m1).view(),
            arr2(&c1).view(),
            arr1(&m2).view(),
            arr2(&c2).view(),
        )
        .unwrap();
        let got = ch16::frechet_distance_2d(m1, c1, m2, c2);
        // Loose enough for rank-1 cases, where a rounding error of 1e-17 in a zero eigenvalue
        // becomes 3e-9 after the square root; a wrong formula is off by order 1.
        let scale = 1.0 + c1[0][0] + c1[1][1] + c2[0][0] + c2[1][1];
        assert!(
            (got - want).abs() < 1e-7 * scale,
            "case {case}: {got} vs the library's {want}"
        );
    }
    // A mean shift of (3, 4) with equal covariances costs 25.
    let c = [[2.0, 0.5], [0.5, 1.0]];
    let got = ch16::frechet_distance_2d([0.0, 0.0], c, [3.0, 4.0], c);
    assert!((got - 25.0).abs() < 1e-9, "{got}");
}
