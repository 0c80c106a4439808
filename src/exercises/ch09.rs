//! Exercises for chapter 09 (see the chapter's "Exercises" section).
