/**
 * A merged answer's JSON text. A cached answer is served again and again with only its freshness
 * changed, and the answer cache hands out the same `windows` array each time: their text, most of the
 * body, is written once per array rather than once per request.
 */
import type { MergedAnswer, MergedWindow } from '../query/merged-view-reader.js';

const windowsText = new WeakMap<readonly MergedWindow[], string>();

/** Exactly `JSON.stringify(answer)`. */
export function answerJson(answer: MergedAnswer): string {
  let windows = windowsText.get(answer.windows);
  if (windows === undefined) windowsText.set(answer.windows, (windows = JSON.stringify(answer.windows)));
  return `{"view":${JSON.stringify(answer.view)},"windows":${windows},"provenance":${JSON.stringify(answer.provenance)},"next":${JSON.stringify(answer.next)}}`;
}
