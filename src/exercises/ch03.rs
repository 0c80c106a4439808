//! Exercises for chapter 03 (see the chapter's "Exercises" section).
