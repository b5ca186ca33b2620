/**
 * One way to skip a suite whose engine or tool is missing: the title and a warning say why, the same
 * everywhere, so a skipped suite is never mistaken for a passed one (CI also fails any MUST_RUN file
 * that skipped a test: .ci/summarize-tests.mjs).
 */
import { describe } from 'vitest';

/** `describe(title, body)`, or the suite skipped with `skipReason` in its title and a warning. */
export function describeWhenAvailable(title: string, skipReason: string | undefined, body: () => void): void {
  if (skipReason) console.warn(`[skipped] ${title}: ${skipReason}`);
  describe.skipIf(Boolean(skipReason))(skipReason ? `${title} (skipped: ${skipReason})` : title, body);
}
