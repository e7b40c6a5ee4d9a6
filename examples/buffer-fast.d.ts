// Buffer's latin1Slice / latin1Write: what toString('latin1', s, e) and
// write(str, off, 'latin1') call after their argument checks. Not in
// @types/node, present in every Node release and in Bun; the examples use them
// on their per-request paths (a key, a request target, a reply header).
declare global {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    latin1Write(s: string, offset: number, length?: number): number;
  }
}
export {};
