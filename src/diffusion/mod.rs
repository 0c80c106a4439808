//! Part II: the diffusion process (f64, ndarray; no burn). Chapters 6-11.
//!
//! | chapter | module |
//! |---|---|
//! | 6. Forward process | [`schedule`], [`forward`] |
//! | 7. Posterior | [`posterior`] |
//! | 8. Reverse process | [`reverse`], [`mixture`] |
//! | 9. Variational bound | [`bound`] |
//! | 10. SDE view | [`sde`] |
//!
//! **Timestep convention:** every per-timestep slice of a [`schedule::NoiseSchedule`] has
//! length $T$ and index `i` holds the paper's $t = i + 1$. Every *function* in this module takes
//! the paper's 1-based $t \in \{1, \dots, T\}$ and reads slot `t - 1`.

pub mod bound;
pub mod forward;
pub mod mixture;
pub mod posterior;
pub mod reverse;
pub mod schedule;
pub mod sde;

pub use schedule::{BetaSchedule, NoiseSchedule, ScheduleError};
