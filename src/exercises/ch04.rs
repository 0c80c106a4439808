//! Exercises for chapter 04 (see the chapter's "Exercises" section).
