//! Workflows: train, sample, eval, bench. Own all file I/O (runs/, checkpoints, config.json, CSV, PNG).

pub mod classifier_train;
pub mod eval;
