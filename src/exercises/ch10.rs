//! Exercises for chapter 10 (see the chapter's "Exercises" section).
