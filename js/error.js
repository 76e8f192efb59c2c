/**
 * The one error class terra-connect rejects and throws with.
 * `code` is stable (see README, "Error codes"); `message` is for people;
 * `status` is the proxy's HTTP status for `proxy_error`.
 */
export class TerraConnectError extends Error {
  constructor(code, message, status) {
    super(message);
    this.name = 'TerraConnectError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}
