//! One file per route.

pub mod authenticate;
pub mod connection;
pub mod webhook;
pub mod widget;
