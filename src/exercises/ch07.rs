//! Exercises for chapter 07 (see the chapter's "Exercises" section).
