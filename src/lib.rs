//! conclab — a concurrency-bug laboratory. Classic bugs written once as std Rust against
//! conclab's std-shaped facade ([`sync`], [`thread`], [`hint`]; [`lab`] for lessons), compiled
//! once and explored by loom, shuttle and real threads through the [`runner`], and shown as
//! readable interleavings ([`trace`]) that replay from a token ([`replay`]).
#![deny(missing_docs)]

pub use check::{check, Check};
pub use report::Kind;
pub use runner::Checker;

pub mod assign;
pub mod bench;
pub mod catalog;
pub mod check;
pub mod demo;
pub mod engine;
pub mod explain;
pub mod file;
pub mod fuzz;
pub mod hint;
pub mod html;
pub mod interrupt;
pub mod lab;
#[cfg(test)]
mod litmus;
pub mod liveness;
pub mod load;
pub mod minimize;
pub mod replay;
pub mod report;
pub mod rt;
pub mod runner;
pub mod server;
pub mod sync;
pub mod thread;
pub mod trace;
pub mod vocab;
