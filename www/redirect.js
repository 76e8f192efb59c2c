// The success and failure pages: hand the result to the waiting connect() (in the app's tab),
// or, in redirect mode, show it here. completeRedirect() checks the state first.
import { completeRedirect } from '/pkg/index.js';

const result = document.getElementById('result');
try {
  const r = completeRedirect(); // closes this tab when connect() opened it
  result.dataset.outcome = r.outcome;
  result.dataset.userId = r.userId ?? '';
  result.textContent = r.outcome === 'success'
    ? `Connected ${r.resource ?? 'a wearable'}: user ${r.userId ?? '(none)'} (reference ${r.referenceId ?? 'none'}).`
    : `The connection to ${r.resource ?? 'the provider'} was not completed.`;
} catch (error) {
  result.dataset.outcome = 'error';
  result.dataset.code = error.code;
  result.textContent = `This link cannot be used (${error.code}): ${error.message}`;
}
