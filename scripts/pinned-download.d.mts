/** Types of scripts/pinned-download.mjs, for the tests. */
export interface Pin {
  url: string;
  version: string;
  sha256: string;
}
export function pinnedUrl(pin: Pin): string;
export function downloadPinned(file: string, pin: Pin, label: string, step?: unknown): Promise<void>;
