// The daemon's sanitizer reports. Under ASan + UBSan (scripts/test.sh runs the API and
// end-to-end suites against build-asan's daemon too), an error or a leak is printed to the
// daemon's stderr, at the moment it happens or at exit. The test libraries' stop() calls
// sanitizerCheck() on the log they collected, so that a report fails the test file that caused
// it instead of scrolling by unseen.

const MARKERS = [/ERROR: AddressSanitizer/, /ERROR: LeakSanitizer/, /runtime error:/,
  /WARNING: AddressSanitizer/];

/** The report's first lines (up to 40), or null when the log has none. */
export function sanitizerReport(log) {
  const lines = log.split('\n');
  const i = lines.findIndex((l) => MARKERS.some((m) => m.test(l)));
  return i < 0 ? null : lines.slice(i, i + 40).join('\n');
}

/** Throws with the report if the log has one. */
export function sanitizerCheck(log, what = 'the daemon') {
  const report = sanitizerReport(log);
  if (report) throw new Error(`sanitizer report from ${what}:\n${report}`);
}
