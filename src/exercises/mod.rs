//! Chapter exercises. Each function is a stub for the student to implement; reference
//! solutions compile in with the `solutions` feature (see the book's "For instructors" page).
//! Grade one chapter with `cargo test --release --test exercises_chNN`. The functions of
//! chapters 12-17 are plain arithmetic too (they build without burn); the graders of chapters
//! 12, 13, 14 and 17 compare with the burn workflows and so need the default `burn` feature.

pub mod ch02;
pub mod ch03;
pub mod ch04;
pub mod ch05;
pub mod ch06;
pub mod ch07;
pub mod ch08;
pub mod ch09;
pub mod ch10;
pub mod ch12;
pub mod ch13;
pub mod ch14;
pub mod ch15;
pub mod ch16;
pub mod ch17;
pub mod ch18;
