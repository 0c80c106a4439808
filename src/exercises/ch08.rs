//! Exercises for chapter 08 (see the chapter's "Exercises" section).
