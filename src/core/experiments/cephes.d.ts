// cephes ships index.d.ts, but its package.json "exports" names no "types", so under NodeNext
// TypeScript cannot find them for `import`. These are its own declarations of what we use.
declare module 'cephes' {
  export const compiled: Promise<void>;
  export function incbet(aa: number, bb: number, xx: number): number;
  export function incbi(aa: number, bb: number, yy0: number): number;
  export function ndtr(a: number): number;
  export function ndtri(y0: number): number;
}
