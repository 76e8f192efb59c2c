export {
  createSession,
  connect,
  parseRedirect,
  SessionOptions,
  Session,
  RedirectResult,
  TerraConnectErrorCode,
} from './terra_connect.js';
import type { TerraConnectErrorCode } from './terra_connect.js';

/** The error every terra-connect call rejects or throws with. */
export declare class TerraConnectError extends Error {
  readonly name: 'TerraConnectError';
  /** Stable reason; see README, "Error codes". */
  readonly code: TerraConnectErrorCode;
  /** The proxy's HTTP status, for `proxy_error`. */
  readonly status?: number;
}
