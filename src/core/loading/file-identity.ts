import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { sha256File, type RepositoryModel, type RepositoryVersion } from '../models/model-repository.js';

/**
 * What a loaded version is compared by on a rescan: the file's sha256 and its model's model.json
 * (a change of labels or batching changes the served model as much as new weights do), all but its
 * `traffic` split, which changes who is served, not what. Hashing
 * a large file on every poll would cost a read of it each time, so a file's hash is kept while
 * its size, mtime and inode are unchanged.
 */
export class FileIdentity {
  private readonly hashes = new Map<string, { stamp: string; sha256: string }>();

  async sha256(path: string): Promise<string> {
    const s = await stat(path);
    const stamp = `${s.size}:${s.mtimeMs}:${s.ino}`;
    const known = this.hashes.get(path);
    if (known?.stamp === stamp) return known.sha256;
    const sha256 = await sha256File(path);
    this.hashes.set(path, { stamp, sha256 });
    return sha256;
  }

  /** The identity of one version as scanned; a file that cannot be read is named by why. */
  async of(
    model: RepositoryModel,
    version: RepositoryVersion,
  ): Promise<{ identity: string; sha256?: string; unreadable?: string }> {
    // A new traffic split changes no version: it applies without a reload
    const { traffic: _traffic, ...served } = model.config;
    const config = createHash('sha256')
      .update(JSON.stringify([served, model.error ?? null]))
      .digest('hex')
      .slice(0, 16);
    if (version.refused) return { identity: `refused:${version.refused}:${config}` };
    try {
      const sha256 = await this.sha256(version.path);
      return { identity: `${sha256}:${config}`, sha256 };
    } catch (err) {
      const unreadable = `${version.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
      return { identity: `unreadable:${unreadable}:${config}`, unreadable };
    }
  }
}
