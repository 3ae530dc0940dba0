import { lstat, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * One entry of the repository once its symlinks are followed. `detail` is for the log only: it
 * may hold absolute paths, which never go into an answer.
 */
export type ResolvedEntry =
  | { found: true; real: string; kind: 'directory' | 'file' | 'other' }
  | { found: false; missing: true }
  | { found: false; missing: false; reason: string; detail: string };

/**
 * MODEL_DIR as a trust boundary. Every entry is resolved with realpath and refused when it leads
 * outside the repository (or to the repository itself), so a symlink can move a model within
 * MODEL_DIR but never bring in a file from elsewhere. Paths inside are named relative to it.
 */
export class RepositoryRoot {
  private constructor(
    /** The repository with every symlink resolved: what is loaded lives under it. */
    readonly real: string,
    private readonly redactor: PathRedactor,
  ) {}

  static async open(dir: string): Promise<RepositoryRoot> {
    const real = await realpath(dir);
    return new RepositoryRoot(real, new PathRedactor([dir, real]));
  }

  /** `rel` is a path inside the repository, with '/' between its parts, as answers name it. */
  async resolve(rel: string): Promise<ResolvedEntry> {
    const path = join(this.real, rel);
    const link = await lstat(path).catch((err: NodeJS.ErrnoException) => err);
    if (link instanceof Error) {
      if (link.code === 'ENOENT') return { found: false, missing: true };
      return { found: false, missing: false, reason: `cannot be read (${link.code ?? 'error'})`, detail: link.message };
    }
    let real: string;
    try {
      real = await realpath(path);
    } catch (err) {
      const { code, message } = err as NodeJS.ErrnoException;
      const reason =
        code === 'ENOENT' ? 'is a symlink whose target does not exist' : `cannot be resolved (${code ?? 'error'})`;
      return { found: false, missing: false, reason, detail: message };
    }
    const inside = relative(this.real, real);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      const where = inside === '' ? 'MODEL_DIR itself' : 'outside MODEL_DIR';
      return {
        found: false,
        missing: false,
        reason: `is a symlink to ${where}: refused`,
        detail: `${path} -> ${real}`,
      };
    }
    const info = await stat(real);
    return { found: true, real, kind: info.isDirectory() ? 'directory' : info.isFile() ? 'file' : 'other' };
  }

  /** The text with this repository's absolute paths replaced by paths relative to it. */
  redact(text: string): string {
    return this.redactor.redact(text);
  }
}

/**
 * Replaces a directory's absolute path in text (onnxruntime's messages name the file it was
 * given): `<dir>/iris/1/model.onnx` becomes `iris/1/model.onnx`, the bare directory `MODEL_DIR`.
 */
export class PathRedactor {
  private readonly prefixes: string[];

  constructor(dirs: string[]) {
    const absolute = dirs.flatMap((d) => [d, resolve(d)]).map((d) => d.replace(/\/+$/, ''));
    // the longest first, so /a/models-x is replaced before /a/models; '/' alone is never a prefix
    this.prefixes = [...new Set(absolute)]
      .filter((d) => isAbsolute(d) && d.length > 1)
      .sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const prefix of this.prefixes) out = out.split(`${prefix}/`).join('').split(prefix).join('MODEL_DIR');
    return out;
  }
}
