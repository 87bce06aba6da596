/**
 * When the page tries again by itself: the reconnect schedule, and which failed
 * starts are worth another try.
 */

/** First reconnect delay, doubled on each failed attempt up to RECONNECT_MAX_MS. */
export const RECONNECT_INITIAL_MS = 500;
export const RECONNECT_MAX_MS = 5000;

/**
 * Milliseconds to wait before reconnect attempt number `attempt` (0-based):
 * 500, 1000, 2000, 4000, 5000, 5000, ...
 */
export function backoffDelay(
  attempt: number,
  initialMs: number = RECONNECT_INITIAL_MS,
  maxMs: number = RECONNECT_MAX_MS
): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2 ** 30 is far past any sensible maximum; avoid Infinity for huge n.
  return Math.min(maxMs, initialMs * 2 ** Math.min(n, 30));
}

/**
 * Whether a failed POST start is worth retrying by itself: the server could
 * not be reached (status 0), or a proxy/gateway error without the server's
 * own `{"error": ...}` explanation. Explained errors are shown to the user.
 */
export function isTransientFailure(status: number, data: unknown): boolean {
  if (status === 0) {
    return true;
  }
  const explained =
    typeof data === 'object' &&
    data !== null &&
    'error' in data &&
    typeof (data as { error: unknown }).error === 'object';
  return status >= 500 && !explained;
}
