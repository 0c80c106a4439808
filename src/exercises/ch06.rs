//! Exercises for chapter 06 (see the chapter's "Exercises" section).
