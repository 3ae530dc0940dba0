/**
 * The normal and Student t distributions the experiment statistics need, and the only file that
 * imports cephes (the Cephes C library compiled to WebAssembly, the special functions scipy long
 * used). Its `stdtr`/`stdtri` take whole degrees of freedom only, and Welch's are fractional, so
 * the t functions are written on its regularized incomplete beta function instead:
 * for T with ν degrees of freedom and x = ν / (ν + t²), P(T ≤ −|t|) = ½·I_x(ν/2, ½).
 * Agreement with scipy 1.17 (test/core/experiments/statistics.test.ts): ~1e-14 relative for the
 * normal, ~1e-10 for the t CDF in the far tails and far better in the body, ~1e-7 for the t
 * quantile below p = 1e-12.
 */
import { compiled, incbet, incbi, ndtr, ndtri } from 'cephes';

// The ES module build compiles its WebAssembly asynchronously (about 20 ms, once per process).
await compiled;

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  return ndtr(x);
}

/** Φ⁻¹(p), the standard normal quantile: 1.959963984540054 at 0.975. */
export function normalQuantile(p: number): number {
  return ndtri(p);
}

/** P(T ≤ t) for Student's t with `df` > 0 degrees of freedom (fractional allowed). */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (t === 0) return 0.5;
  if (!Number.isFinite(t)) return t > 0 ? 1 : 0;
  const lowerTail = 0.5 * incbet(df / 2, 0.5, df / (df + t * t));
  return t < 0 ? lowerTail : 1 - lowerTail;
}

/** The t with P(T ≤ t) = p, for `df` > 0 degrees of freedom (fractional allowed). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p >= 0 && p <= 1) || !(df > 0)) return Number.NaN;
  if (p === 0.5) return 0;
  if (p === 0 || p === 1) return p === 0 ? -Infinity : Infinity;
  const tail = Math.min(p, 1 - p);
  const x = incbi(df / 2, 0.5, 2 * tail);
  const t = Math.sqrt((df * (1 - x)) / x);
  return p < 0.5 ? -t : t;
}
