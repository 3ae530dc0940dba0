import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { modelConfigSchema, type ModelConfig } from './model-config.js';
import { RepositoryRoot, type ResolvedEntry } from './repository-root.js';
import { versionFolder } from './version-folder.js';
import { selectVersions } from './version-policy.js';

/**
 * Triton's layout, which users already know:
 *   <dir>/<name>/model.json          optional
 *   <dir>/<name>/<version>/model.onnx versions are positive integers, the highest is the default
 * Entries are named relative to <dir> (`iris/1/model.onnx`) in everything an answer may show.
 */
export interface RepositoryModel {
  name: string;
  config: ModelConfig;
  /**
   * Why the model cannot be used at all (model.json unusable, its folder refused); every version
   * then fails with it.
   */
  error?: string;
  versions: RepositoryVersion[];
  /** Entries of the model's folder that are not served, and why. */
  skipped: SkippedEntry[];
}

export interface RepositoryVersion {
  version: string;
  /** The file relative to the repository: `iris/1/model.onnx`. */
  file: string;
  /** The file's absolute path with symlinks resolved: what is loaded; '' when refused. Never shown in an answer. */
  path: string;
  /** Why the version is refused without being loaded (a symlink out of the repository). */
  refused?: string;
}

/** An entry that is not served, named relative to the repository, and why. */
export interface SkippedEntry {
  entry: string;
  reason: string;
}

/** Where what an answer must not show (absolute paths, symlink targets) is written instead. */
export interface ScanLog {
  warn(obj: object, msg: string): void;
}

export interface Repository {
  root: RepositoryRoot;
  models: RepositoryModel[];
  /** Top-level entries that are not models, and why. */
  skipped: SkippedEntry[];
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** model.json is configuration: a larger one is a mistake or an attack, not read into memory. */
const MODEL_JSON_MAX_BYTES = 1024 * 1024;

/** Hidden entries (`.git`, Kubernetes' `..data`) are skipped without a word; other odd ones are reported. */
async function visibleEntries(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => !n.startsWith('.')).sort((a, b) => a.localeCompare(b));
}

/** Reads the layout; every entry that is skipped or refused is logged at warn, with its absolute path. */
export async function scanRepository(dir: string, log: ScanLog): Promise<Repository> {
  const root = await RepositoryRoot.open(dir);
  const scan = new Scan(root, log);
  const models: RepositoryModel[] = [];
  for (const name of await visibleEntries(root.real)) {
    const entry = await scan.resolve(name);
    if (!entry.found) {
      if (entry.missing) continue; // removed while we were reading
      if (MODEL_NAME.test(name))
        models.push({
          name,
          config: modelConfigSchema.parse({}),
          error: `${name} ${entry.reason}`,
          versions: [],
          skipped: [],
        });
      else scan.skip(scan.skipped, name, entry.reason);
      continue;
    }
    if (entry.kind === 'file' && name.endsWith('.onnx')) {
      scan.skip(
        scan.skipped,
        name,
        `an ONNX file at the top level is not served: put it at ${name.slice(0, -5)}/1/model.onnx`,
      );
    } else if (entry.kind === 'directory' && !MODEL_NAME.test(name)) {
      scan.skip(
        scan.skipped,
        name,
        'not a model name: letters, digits, _ . and -, starting with a letter or digit, at most 128',
      );
    } else if (entry.kind === 'directory') {
      models.push(await scanModel(scan, name, entry.real));
    } // other files (a README, the script that built the models) are not the server's business
  }
  return { root, models, skipped: scan.skipped };
}

/** The root, the log, and the top-level entries skipped so far. */
class Scan {
  readonly skipped: SkippedEntry[] = [];

  constructor(
    readonly root: RepositoryRoot,
    private readonly log: ScanLog,
  ) {}

  /** The entry resolved; a refusal is logged here, with the absolute paths the answers leave out. */
  async resolve(rel: string): Promise<ResolvedEntry> {
    const entry = await this.root.resolve(rel);
    if (!entry.found && !entry.missing)
      this.log.warn({ entry: rel, reason: entry.reason, detail: entry.detail }, 'model repository entry refused');
    return entry;
  }

  skip(list: SkippedEntry[], entry: string, reason: string): void {
    list.push({ entry, reason });
    this.log.warn({ entry, reason, path: join(this.root.real, entry) }, 'model repository entry skipped');
  }
}

async function scanModel(scan: Scan, name: string, real: string): Promise<RepositoryModel> {
  const { config, error } = await readModelConfig(scan, `${name}/model.json`);
  const versions: RepositoryVersion[] = [];
  const skipped: SkippedEntry[] = [];
  const misspelt: { entry: string; sameAs: string; problem: string }[] = [];
  const children = await visibleEntries(real).catch((err: NodeJS.ErrnoException) => err);
  if (children instanceof Error)
    return { name, config, error: `${name} cannot be read (${children.code ?? 'error'})`, versions, skipped };
  for (const child of children) {
    if (child === 'model.json') continue;
    const rel = `${name}/${child}`;
    const folder = versionFolder(child);
    const entry = await scan.resolve(rel);
    if (!entry.found) {
      if (entry.missing) continue;
      if ('version' in folder)
        versions.push({
          version: folder.version,
          file: `${rel}/model.onnx`,
          path: '',
          refused: `${rel} ${entry.reason}`,
        });
      else scan.skip(skipped, rel, entry.reason);
    } else if (entry.kind === 'file' && child.endsWith('.onnx')) {
      scan.skip(skipped, rel, `an ONNX file is served from a version folder: put it at ${name}/1/model.onnx`);
    } else if (entry.kind !== 'directory') {
      continue; // a README or a labels file beside model.json
    } else if ('problem' in folder) {
      if (folder.sameAs) misspelt.push({ entry: rel, sameAs: folder.sameAs, problem: folder.problem });
      else scan.skip(skipped, rel, folder.problem);
    } else {
      const version = await findModelFile(scan, rel, folder.version);
      if ('reason' in version) scan.skip(skipped, version.entry, version.reason);
      else versions.push(version);
    }
  }
  // `01` beside `1` would be a second copy of version 1; alone, it is still not read as version 1
  for (const m of misspelt) {
    const taken = versions.some((v) => v.version === m.sameAs);
    scan.skip(
      skipped,
      m.entry,
      `${m.problem}: ${taken ? `it collides with ${name}/${m.sameAs}` : `rename it to ${name}/${m.sameAs}`}`,
    );
  }
  versions.sort((a, b) => Number(a.version) - Number(b.version));
  // Left out on purpose: listed, not logged (a warning on every poll would be noise).
  const { served, excluded } = selectVersions(versions, config.version_policy);
  for (const v of excluded) skipped.push({ entry: `${name}/${v.version}`, reason: v.reason });
  skipped.sort((a, b) => a.entry.localeCompare(b.entry));
  return { name, config, error, versions: served, skipped };
}

async function findModelFile(scan: Scan, folder: string, version: string): Promise<RepositoryVersion | SkippedEntry> {
  const file = `${folder}/model.onnx`;
  const entry = await scan.resolve(file);
  if (entry.found && entry.kind === 'file') return { version, file, path: entry.real };
  if (entry.found) return { entry: folder, reason: `${file} is not a file` };
  if (entry.missing) return { entry: folder, reason: 'no model.onnx in this version folder' };
  return { version, file, path: '', refused: `${file} ${entry.reason}` };
}

async function readModelConfig(scan: Scan, rel: string): Promise<{ config: ModelConfig; error?: string }> {
  const defaults = modelConfigSchema.parse({});
  const entry = await scan.resolve(rel);
  if (!entry.found && entry.missing) return { config: defaults }; // no model.json: everything comes from the ONNX file
  if (!entry.found) return { config: defaults, error: `${rel} ${entry.reason}` };
  if (entry.kind !== 'file') return { config: defaults, error: `${rel} is not a file` };
  let text: string;
  try {
    const { size } = await stat(entry.real);
    if (size > MODEL_JSON_MAX_BYTES)
      return { config: defaults, error: `${rel} is ${size} bytes; the limit is ${MODEL_JSON_MAX_BYTES}` };
    text = await readFile(entry.real, 'utf8');
  } catch (err) {
    return { config: defaults, error: `${rel} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { config: defaults, error: `model.json is not valid JSON: ${(err as Error).message}` };
  }
  const parsed = modelConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { config: defaults, error: `model.json is invalid: ${issues}` };
  }
  return { config: parsed.data };
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
