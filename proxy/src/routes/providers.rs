//! `GET /providers`: the providers this account offers and this proxy allows, from the cached
//! catalogue (see [`crate::resources`]).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::ProxyState;

/// `{"providers":[{resource, name, icon}]}` in Terra's order (`icon` a URL or `null`).
pub(crate) async fn handle(State(state): State<Arc<ProxyState>>) -> Result<Json<Value>, ApiError> {
    let providers = state.resources.providers().await?;
    Ok(Json(json!({ "providers": providers })))
}
