//! The browser glue: the only modules that touch `web-sys`. Each is a thin typed layer over
//! one browser facility; the decisions live in the pure modules. Everything here is
//! synchronous: what waits (fetch, timers, events) is `js/driver.js`, see [`flow`].

pub mod channel;
pub mod complete;
pub mod flow;
pub mod js;
pub mod storage;
pub mod tab;
