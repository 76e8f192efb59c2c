export {
  createSession,
  connect,
  completeRedirect,
  parseRedirect,
  listConnections,
  disconnect,
  listProviders,
  SessionOptions,
  ConnectOptions,
  CompleteOptions,
  Session,
  RedirectResult,
  ConnectResult,
  ListConnectionsOptions,
  DisconnectOptions,
  ListProvidersOptions,
  Connection,
  Provider,
  TerraConnectErrorCode,
  TerraProvider,
} from './terra_connect.js';
import type { TerraConnectErrorCode, RedirectResult } from './terra_connect.js';

/** The error every terra-connect call rejects or throws with. */
export declare class TerraConnectError extends Error {
  readonly name: 'TerraConnectError';
  /** Stable reason; see README, "Error codes". */
  readonly code: TerraConnectErrorCode;
  /** The proxy's HTTP status, for `proxy_error`. */
  readonly status?: number;
  /** For `auth_failed`: what the failure redirect carried. */
  readonly result?: RedirectResult;
}
