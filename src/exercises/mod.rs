//! Chapter exercises. Each function is a stub for the student to implement; reference
//! solutions compile in with the `solutions` feature (see the book's "For instructors" page).
