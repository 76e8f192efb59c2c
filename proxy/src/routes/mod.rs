//! One file per route.

pub mod authenticate;
pub mod webhook;
