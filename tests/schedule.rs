//! Tests for `ddpm::diffusion::schedule` (chapter 6).

use approx::assert_relative_eq;
use ddpm::diffusion::schedule::{BetaSchedule, NoiseSchedule, ScheduleError};

fn both() -> Vec<NoiseSchedule> {
    vec![
        NoiseSchedule::linear(1000).unwrap(),
        NoiseSchedule::cosine(1000).unwrap(),
    ]
}

#[test]
fn alpha_bar_strictly_decreasing_and_in_unit_interval() {
    for s in both() {
        let ab = s.alpha_bar();
        assert_eq!(ab.len(), 1000);
        assert!(ab.windows(2).all(|w| w[1] < w[0]), "{:?}", s.kind());
        assert!(ab.iter().all(|&a| a > 0.0 && a < 1.0));
    }
}

#[test]
fn alpha_bar_is_product_from_s_equals_one() {
    // Independent computation: the product over s = 1..=t of (1 - beta_s), directly.
    for s in both() {
        for t in [1usize, 2, 10, 500, 1000] {
            let prod: f64 = s.beta()[..t].iter().map(|b| 1.0 - b).product();
            assert_relative_eq!(s.alpha_bar()[t - 1], prod, max_relative = 1e-12);
        }
        // alpha_bar_1 = alpha_1, not alpha_0 * alpha_1 (there is no beta_0).
        assert_eq!(s.alpha_bar()[0], 1.0 - s.beta()[0]);
        assert_eq!(s.alpha_bar_prev()[0], 1.0);
        assert_eq!(s.alpha_bar_prev()[1..], s.alpha_bar()[..999]);
    }
}

#[test]
fn linear_endpoints_match_ho_et_al() {
    // np.linspace(1e-4, 0.02, 1000)
    let s = NoiseSchedule::linear(1000).unwrap();
    assert_eq!(s.beta()[0], 1e-4);
    assert_relative_eq!(s.beta()[999], 0.02, max_relative = 1e-14);
    assert_relative_eq!(
        s.beta()[1] - s.beta()[0],
        (0.02 - 1e-4) / 999.0,
        max_relative = 1e-10
    );
    // Known value: alpha_bar_T for the linear schedule is about 4.04e-5
    // (sum of log(1 - beta) ~ -T * mean(beta) = -10.05, minus second-order terms).
    let log_sum: f64 = s.beta().iter().map(|b| (1.0 - b).ln()).sum();
    assert_relative_eq!(s.alpha_bar()[999], log_sum.exp(), max_relative = 1e-12);
    assert!((4.0e-5..4.1e-5).contains(&s.alpha_bar()[999]));
}

#[test]
fn cosine_matches_its_closed_form() {
    // alpha_bar_t = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1+s)) pi/2), away from the clip.
    let s = NoiseSchedule::cosine(1000).unwrap();
    let f = |t: f64| {
        let c = ((t / 1000.0 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos();
        c * c
    };
    for t in [1usize, 10, 100, 500, 900, 990] {
        assert_relative_eq!(
            s.alpha_bar()[t - 1],
            f(t as f64) / f(0.0),
            max_relative = 1e-9
        );
    }
    assert_eq!(s.beta()[999], 0.999);
}

/// Chapter 6: the cosine schedule's clip at 0.999 acts on the last step only. Unclipped,
/// f(T) = cos^2(pi/2) = 0 gives beta_T = 1 (alpha_T = 0: the reverse mean's 1/sqrt(alpha_T)
/// blows up); f(T - k) ~ (k pi / (2 T (1 + s)))^2 gives beta_{T-1} ~ 1 - 1/4. With the clip,
/// alpha_bar_T = 0.001 alpha_bar_{T-1} > 0.
#[test]
fn cosine_clip_touches_only_the_last_step() {
    let s = NoiseSchedule::cosine(1000).unwrap();
    let f = |t: f64| {
        let c = ((t / 1000.0 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos();
        c * c
    };
    let unclipped = |t: f64| 1.0 - f(t) / f(t - 1.0);
    assert!(unclipped(1000.0) > 1.0 - 1e-12, "{}", unclipped(1000.0));
    let clipped: Vec<usize> = (1..=1000).filter(|&t| s.beta()[t - 1] >= 0.999).collect();
    assert_eq!(clipped, vec![1000]);
    // beta_{T-1} from the small-angle form, 1 - (1/2)^2, to O(1/T^2)
    assert!((s.beta()[998] - 0.75).abs() < 1e-4, "{}", s.beta()[998]);
    assert_relative_eq!(
        s.alpha_bar()[999],
        0.001 * s.alpha_bar()[998],
        max_relative = 1e-12
    );
    assert!(s.alpha_bar()[999] > 0.0 && s.alpha()[999].sqrt() > 0.03);
}

#[test]
fn derived_quantities_are_consistent() {
    for s in both() {
        for i in [0usize, 1, 7, 499, 999] {
            let (b, ab, abp) = (s.beta()[i], s.alpha_bar()[i], s.alpha_bar_prev()[i]);
            assert_relative_eq!(s.sqrt_alpha_bar()[i].powi(2), ab, max_relative = 1e-12);
            assert_relative_eq!(
                s.sqrt_one_minus_alpha_bar()[i].powi(2),
                1.0 - ab,
                max_relative = 1e-12
            );
            assert_relative_eq!(
                s.sqrt_recip_alpha_bar()[i] * s.sqrt_alpha_bar()[i],
                1.0,
                max_relative = 1e-12
            );
            assert_relative_eq!(
                s.sqrt_recipm1_alpha_bar()[i],
                s.sqrt_one_minus_alpha_bar()[i] / s.sqrt_alpha_bar()[i],
                max_relative = 1e-9
            );
            assert_relative_eq!(
                s.posterior_variance()[i],
                b * (1.0 - abp) / (1.0 - ab),
                max_relative = 1e-12
            );
            // coef1 + coef2 * sqrt(alpha)... sanity: the two coefficients reproduce
            // mu_tilde(x_t, x_0) = x_0 when x_t = sqrt(abar) x_0 and beta_tilde = 0 at t = 1.
            assert_relative_eq!(s.snr()[i], ab / (1.0 - ab), max_relative = 1e-12);
        }
        assert_eq!(s.posterior_variance()[0], 0.0);
        assert_eq!(
            s.posterior_log_variance_clipped()[0],
            s.posterior_variance()[1].ln()
        );
        assert_eq!(
            s.posterior_log_variance_clipped()[5],
            s.posterior_variance()[5].ln()
        );
        // At t = 1, mu_tilde = x_0: coef1 = 1, coef2 = 0.
        assert_relative_eq!(s.posterior_mean_coef1()[0], 1.0, max_relative = 1e-12);
        assert_eq!(s.posterior_mean_coef2()[0], 0.0);
    }
}

#[test]
fn single_step_schedule() {
    let s = NoiseSchedule::linear(1).unwrap();
    assert_eq!(s.beta(), &[1e-4]);
    assert!(s.posterior_log_variance_clipped()[0].is_finite());
}

#[test]
fn error_cases() {
    assert_eq!(NoiseSchedule::linear(0), Err(ScheduleError::NoTimesteps));
    assert_eq!(NoiseSchedule::cosine(0), Err(ScheduleError::NoTimesteps));
    let bad = |beta_start, beta_end| {
        NoiseSchedule::new(
            BetaSchedule::Linear {
                beta_start,
                beta_end,
            },
            10,
        )
    };
    assert!(matches!(
        bad(0.0, 0.02),
        Err(ScheduleError::BetaOutOfRange { t: 1, .. })
    ));
    assert!(matches!(
        bad(0.1, 1.0),
        Err(ScheduleError::BetaOutOfRange { t: 10, .. })
    ));
    assert!(matches!(
        bad(-0.1, 0.5),
        Err(ScheduleError::BetaOutOfRange { t: 1, .. })
    ));
    assert!(matches!(
        bad(f64::NAN, 0.5),
        Err(ScheduleError::InvalidParameter { .. })
    ));
    assert!(matches!(
        NoiseSchedule::new(BetaSchedule::Cosine { s: -0.5 }, 10),
        Err(ScheduleError::InvalidParameter { name: "s", .. })
    ));
    let msg = bad(0.1, 1.0).unwrap_err().to_string();
    assert!(msg.contains("beta_10") && msg.contains("(0, 1)"), "{msg}");
}

#[test]
fn serde_round_trip() {
    for k in [
        BetaSchedule::Linear {
            beta_start: 1e-4,
            beta_end: 0.02,
        },
        BetaSchedule::Cosine { s: 0.008 },
    ] {
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(serde_json::from_str::<BetaSchedule>(&json).unwrap(), k);
    }
    let s = NoiseSchedule::cosine(10).unwrap();
    assert_eq!(s.kind(), BetaSchedule::Cosine { s: 0.008 });
    assert_eq!(s.num_timesteps(), 10);
}

mod properties {
    use ddpm::diffusion::forward::q_sample;
    use ddpm::diffusion::reverse::predict_start_from_noise;
    use ddpm::diffusion::schedule::{BetaSchedule, NoiseSchedule};
    use ndarray::arr1;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// For any valid linear schedule: alpha_bar strictly decreasing in (0, 1),
        /// 0 <= beta_tilde <= beta, and the posterior coefficients are in [0, 1].
        #[test]
        fn linear_schedule_invariants(start in 1e-5f64..0.05, extra in 0.0f64..0.5, t in 2usize..400) {
            let s = NoiseSchedule::new(BetaSchedule::Linear { beta_start: start, beta_end: start + extra }, t).unwrap();
            prop_assert!(s.alpha_bar().windows(2).all(|w| w[1] < w[0]));
            prop_assert!(s.alpha_bar().iter().all(|&a| a > 0.0 && a < 1.0));
            for i in 0..t {
                // <= not <: once abar_t underflows to ~1e-14, beta_tilde_t rounds to beta_t
                prop_assert!(s.posterior_variance()[i] >= 0.0 && s.posterior_variance()[i] <= s.beta()[i]);
                // coef1 at t = 1 is beta_1 / (1 - (1 - beta_1)) = 1 up to the rounding of 1 - beta_1
                prop_assert!((0.0..=1.0 + 1e-9).contains(&s.posterior_mean_coef1()[i]));
                prop_assert!((0.0..=1.0).contains(&s.posterior_mean_coef2()[i]));
            }
        }

        /// predict_start_from_noise inverts q_sample at every t.
        #[test]
        fn predict_start_inverts_q_sample(x0 in -1.0f64..1.0, eps in -4.0f64..4.0, t in 1usize..=1000) {
            let s = NoiseSchedule::cosine(1000).unwrap();
            let xt = q_sample(&s, &arr1(&[x0]), t, &arr1(&[eps]));
            let back = predict_start_from_noise(&s, &xt, t, &arr1(&[eps]))[0];
            // abar_T is ~2e-9 for the cosine schedule: 1/sqrt(abar) ~ 2e4 amplifies rounding to ~1e-11
            prop_assert!((back - x0).abs() < 1e-9, "{} vs {}", back, x0);
        }
    }
}
