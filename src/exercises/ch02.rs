//! Exercises for chapter 02 (see the chapter's "Exercises" section).
