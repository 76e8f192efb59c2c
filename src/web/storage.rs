//! `localStorage`: pending records and delivered results. A browser that refuses storage
//! (some private modes) reads as empty and ignores writes.

use web_sys::Storage;

fn local() -> Option<Storage> {
    crate::web::window()?.local_storage().ok().flatten()
}

/// The value at `key`.
pub fn get(key: &str) -> Option<String> {
    local()?.get_item(key).ok().flatten()
}

/// Stores `value` at `key`; returns whether it was stored.
pub fn set(key: &str, value: &str) -> bool {
    local().is_some_and(|s| s.set_item(key, value).is_ok())
}

/// Removes `key`.
pub fn remove(key: &str) {
    if let Some(s) = local() {
        let _ = s.remove_item(key);
    }
}

/// The keys that start with `prefix`.
pub fn keys_with_prefix(prefix: &str) -> Vec<String> {
    let Some(s) = local() else { return Vec::new() };
    let count = s.length().unwrap_or(0);
    (0..count).filter_map(|i| s.key(i).ok().flatten()).filter(|k| k.starts_with(prefix)).collect()
}
