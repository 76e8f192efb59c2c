//! The browser glue: the only modules that touch `web-sys`. Each is a thin typed layer over
//! one browser facility; the decisions live in the pure modules.

pub mod channel;
pub mod complete;
pub mod fetch;
pub mod flow;
pub mod js;
pub mod storage;
pub mod tab;
