//! Exercises for chapter 05 (see the chapter's "Exercises" section).
