// terra-connect's package entry. It instantiates the WebAssembly module (top-level await)
// before it exports anything, so by the time `import 'terra-connect'` resolves, connect() is
// ready to open its tab synchronously inside the first click handler.
import init from './terra_connect.js';

await init();

export {
  createSession,
  connect,
  completeRedirect,
  parseRedirect,
  listConnections,
  disconnect,
  listProviders,
} from './terra_connect.js';
export { TerraConnectError } from '__ERROR_MODULE__';
