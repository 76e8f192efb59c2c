//! One file per route.

pub mod authenticate;
