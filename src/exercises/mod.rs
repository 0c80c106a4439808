//! Chapter exercises. Each function is a stub for the student to implement; reference
//! solutions compile in with the `solutions` feature (see the book's "For instructors" page).
//! Grade one chapter with `cargo test --release --test exercises_chNN`.

pub mod ch02;
pub mod ch03;
pub mod ch04;
pub mod ch05;
pub mod ch06;
pub mod ch07;
pub mod ch08;
pub mod ch09;
pub mod ch10;
