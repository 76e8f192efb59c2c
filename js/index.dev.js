// terra-connect's entry for dev servers (the "development" export condition): identical to
// index.js, but the WebAssembly module is inlined, so it loads wherever the dev server moves
// this file (Vite pre-bundles dependencies into .vite/deps, away from the .wasm file).
import init from './terra_connect.js';

const WASM = '__WASM_BASE64__';
await init({ module_or_path: Uint8Array.from(atob(WASM), (c) => c.charCodeAt(0)) });

export { createSession, connect, completeRedirect, parseRedirect } from './terra_connect.js';
export { TerraConnectError } from '__ERROR_MODULE__';
