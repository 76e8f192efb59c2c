// The one piece of the client written in JavaScript, because Rust cannot say it: a class that
// extends the built-in Error (so `instanceof Error`, `stack` and `name` work as apps expect).
// src/web/values.rs constructs it; `result` is a plain object made by serde-wasm-bindgen.
/**
 * The one error class terra-connect rejects and throws with.
 * `code` is stable (see README, "Error codes"); `message` is for people;
 * `status` is the proxy's HTTP status for `proxy_error`; `result` is what the failure
 * redirect carried, for `auth_failed`.
 */
export class TerraConnectError extends Error {
  constructor(code, message, status, result) {
    super(message);
    this.name = 'TerraConnectError';
    this.code = code;
    if (status !== undefined) this.status = status;
    if (result !== undefined) this.result = result;
  }
}
