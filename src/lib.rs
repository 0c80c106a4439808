//! # ddpm: Denoising Diffusion Probabilistic Models from first principles
//!
//! A literate crate: the book in `chapters/` (built with mdBook) explains the mathematics of
//! Ho, Jain & Abbeel (2020), and every formula it states is computed by a function here and
//! checked numerically by a test in `tests/`. The layers (see `../shared/ARCHITECTURE.md`):
//!
//! | layer | module | needs burn |
//! |---|---|---|
//! | probability (Part I) | [`probability`] | no |
//! | diffusion math (Part II) | [`diffusion`] | no |
//! | figures | [`figures`] | no |
//! | data (IDX reader, embedded MNIST subset) | [`data`] | no |
//! | network (U-Net, classifier) | `network` | yes (feature `burn`) |
//! | workflows (train, sample, eval, bench) | `workflows` | yes (feature `burn`) |
//!
//! ## Map: chapter = module = notebook = test
//!
//! | chapter | module | notebook | tests |
//! |---|---|---|---|
//! | 1. Generative models | [`book::ch01_generative_models`] | `notebooks/01-generative-models.ipynb` | - |
//! | 2. KL divergence | [`probability::kl`], [`probability::entropy`](mod@probability::entropy), [`probability::mixture`], [`probability::gaussian`], [`probability::scalars`] | `notebooks/02-kl-divergence.ipynb` | `tests/kl_divergence.rs`, `tests/gaussian.rs` |
//! | 3. Bayes' rule | [`probability::bayes`], [`probability::grid`] | `notebooks/03-bayes-rule.ipynb` | `tests/bayes_rule.rs` |
//! | 4. Monte Carlo | [`probability::monte_carlo`](mod@probability::monte_carlo) | `notebooks/04-monte-carlo.ipynb` | `tests/monte_carlo.rs` |
//! | 5. The ELBO | [`probability::elbo`] | `notebooks/05-elbo.ipynb` | `tests/elbo.rs` |
//! | 6. Forward process | [`diffusion::forward`], [`diffusion::schedule`] | `notebooks/06-forward-process.ipynb` | `tests/forward_process.rs`, `tests/schedule.rs` |
//! | 7. Posterior | [`diffusion::posterior`] | `notebooks/07-posterior.ipynb` | `tests/posterior.rs` |
//! | 8. Reverse process | [`diffusion::reverse`], [`diffusion::mixture`] | `notebooks/08-reverse-process.ipynb` | `tests/reverse_process.rs` |
//! | 9. Variational bound | [`diffusion::bound`] | `notebooks/09-variational-bound.ipynb` | `tests/variational_bound.rs` |
//! | 10. SDE view | [`diffusion::sde`] | `notebooks/10-sde-view.ipynb` | `tests/sde_view.rs` |
//! | 11. Errata | [`book::ch11_errata`] | `notebooks/11-errata.ipynb` | `tests/errata.rs` |
//! | 12-14. U-Net, training, sampling | `network`, `workflows` | `notebooks/12-unet.ipynb`, `13-training`, `14-sampling` | `tests/unet.rs`, `tests/training.rs`, `tests/sampling.rs` |
//! | 15-17. Measuring | `workflows::measure`, `workflows::eval_report` (`ddpm eval`) | `notebooks/15-likelihood.ipynb`, `16-sample-quality`, `17-samplers` | `tests/measure.rs`, `tests/eval_report.rs`, `tests/sample_quality.rs`, `tests/classifier.rs` |
//! | 18. Conditional diffusion, guidance | `network::conditional`, `workflows::conditional` (`ddpm eval --guidance`) | `notebooks/18-conditional.ipynb` | `tests/conditional.rs` |
//!
//! Also: the exercises (one stub file per chapter, `src/exercises/chNN.rs`, which is not a
//! module of this library: each is compiled into its own grader, `tests/exercises_chNN.rs`, so
//! that a stub that does not compile costs its chapter only, and may not call this crate; see
//! the instructors' page), [`figures`] and [`book_figures`]
//! (every plot in `chapters/figures/`, tested in `tests/figures.rs`), and
//! `examples/part1_numbers.rs`, `examples/part2_numbers.rs` (every number quoted in Parts I
//! and II).
//!
//! Every chapter is also attached below as a doc-only module of [`book`], so `cargo test --doc`
//! compiles and runs each of its `rust` code blocks against this crate.

pub mod book_figures;
pub mod data;
pub mod diffusion;
pub mod figures;
pub mod metrics;
#[cfg(feature = "burn")]
pub mod network;
pub mod probability;
#[cfg(feature = "burn")]
pub mod workflows;

/// Re-exported (with the `burn` feature) so that the Part III notebooks build tensors and
/// devices with the crate's own burn (`ddpm::burn::prelude::*`).
#[cfg(feature = "burn")]
pub use burn;
/// Re-exported so that notebooks use the crate's own versions.
pub use ndarray;
pub use plotters;
pub use rand;
pub use rand_chacha;

/// The book's chapters, attached as doc-only modules so that their `rust` blocks are doctests.
/// (`{{#include}}` lines are expanded by `build.rs`; included listings are `rust,ignore`.)
pub mod book {
    macro_rules! chapter {
        ($(#[$meta:meta])* $name:ident, $file:literal) => {
            $(#[$meta])*
            #[doc = include_str!(concat!(env!("OUT_DIR"), "/chapters/", $file))]
            pub mod $name {}
        };
    }
    chapter!(introduction, "introduction.md");
    chapter!(notation, "notation.md");
    chapter!(instructors, "instructors.md");
    chapter!(ch01_generative_models, "01-generative-models.md");
    chapter!(ch02_kl_divergence, "02-kl-divergence.md");
    chapter!(ch03_bayes_rule, "03-bayes-rule.md");
    chapter!(ch04_monte_carlo, "04-monte-carlo.md");
    chapter!(ch05_elbo, "05-elbo.md");
    chapter!(ch06_forward_process, "06-forward-process.md");
    chapter!(ch07_posterior, "07-posterior.md");
    chapter!(ch08_reverse_process, "08-reverse-process.md");
    chapter!(ch09_variational_bound, "09-variational-bound.md");
    chapter!(ch10_sde_view, "10-sde-view.md");
    chapter!(ch11_errata, "11-errata.md");
    chapter!(
        #[cfg(feature = "burn")]
        ch12_unet,
        "12-unet.md"
    );
    chapter!(
        #[cfg(feature = "burn")]
        ch13_training,
        "13-training.md"
    );
    chapter!(
        #[cfg(feature = "burn")]
        ch14_sampling,
        "14-sampling.md"
    );
    chapter!(
        #[cfg(feature = "burn")]
        ch15_likelihood,
        "15-likelihood.md"
    );
    chapter!(
        #[cfg(feature = "burn")]
        ch16_sample_quality,
        "16-sample-quality.md"
    );
    chapter!(
        #[cfg(feature = "burn")]
        ch17_samplers,
        "17-samplers.md"
    );
    chapter!(
        #[cfg(feature = "burn")]
        ch18_conditional,
        "18-conditional.md"
    );
}
