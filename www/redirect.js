// The success and failure pages: read what Terra appended to the URL.
import { parseRedirect } from '/pkg/index.js';

const result = document.getElementById('result');
try {
  const r = parseRedirect();
  result.dataset.outcome = r.outcome;
  result.dataset.userId = r.userId ?? '';
  result.textContent = r.outcome === 'success'
    ? `Connected ${r.resource ?? 'a wearable'}: user ${r.userId ?? '(none)'} (reference ${r.referenceId ?? 'none'}).`
    : `The connection to ${r.resource ?? 'the provider'} was not completed.`;
} catch (error) {
  result.dataset.outcome = 'error';
  result.textContent = `This is not a terra-connect redirect (${error.code}): ${error.message}`;
}
