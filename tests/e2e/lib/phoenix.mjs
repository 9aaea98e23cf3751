// Small helpers for tests that drive the official phoenix client.

// Resolves with the outcome of a phoenix Push: `{ status, response }`, where
// status is 'ok', 'error' or 'timeout'.
export function replyOf(push) {
  return new Promise((resolve) => {
    push
      .receive('ok', (response) => resolve({ status: 'ok', response }))
      .receive('error', (response) => resolve({ status: 'error', response }))
      .receive('timeout', () => resolve({ status: 'timeout' }));
  });
}

// Resolves with `promise`, or rejects after `timeoutMs` with a message that
// contains `description`.
export function within(promise, timeoutMs, description) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
