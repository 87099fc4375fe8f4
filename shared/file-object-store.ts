/**
 * The object store in a local directory (`npm start`): the directory is the bucket, a key is a path
 * under it. No server and no port: the API and the trainer processes open the files themselves.
 *
 * - Writes are atomic: the bytes go to a temporary file under <dir>/.tmp/, are fsynced, then renamed
 *   onto the key (a reader sees the old object or the new one, never part of one).
 * - Create-only writes (If-None-Match) link(2) the finished temporary file to the key: link fails
 *   with EEXIST when the key exists, so of racing writers, across processes, exactly one wins.
 * - Listings are in S3's order (byte order of the whole key), paginated with a continuation token,
 *   with '/' rolled up into common prefixes on request.
 * - Reads open the file first and report the size of what was opened: one whole version, whatever
 *   renames follow. Its etag names that file (inode, modification time, size): every write is a new file.
 * - Replace-if-unchanged writes (If-Match) hold a lock file (exclusive create, broken when stale) while
 *   they compare the etag and rename, so of racing compare-and-swaps, across processes, one wins.
 *
 * Keys are checked (no empty, "." or ".." segments, no segment starting with "."), so no key names a
 * file outside the directory or the temporary folder; and no symbolic link is followed (a planted
 * `README.md -> /etc/hostname` is not an object, nor is anything under a linked folder), so every
 * read and write stays inside the directory.
 *
 * Messages name objects by their s3:// URI (bucket and key), never by the server's paths.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  type Dirent,
  existsSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  readlinkSync,
  realpathSync,
} from 'node:fs';
import { type FileHandle, link, lstat, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { type ListOptions, type ListPage, type ObjectBody, type ObjectStore, ObjectStoreError, type PutOptions } from './object-store.ts';

const TMP = '.tmp';
const MAX_KEYS = 1000;
/** Large reads: fewer, bigger chunks through the stream (downloads are several MB). */
const READ_CHUNK_BYTES = 1024 * 1024;

/** A compare-and-swap lock older than this was left by a dead process: it is broken. */
const LOCK_STALE_MS = 30_000;

/**
 * Linux names the file behind an open descriptor in /proc/self/fd: one readlink there (procfs, no disk)
 * says whether a read went through a link, where checking each folder first costs an lstat per folder
 * and still leaves a window between the checks and the open.
 */
const PROC_FD = existsSync('/proc/self/fd');

function openedPath(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

/** The path of an open file is `expected`, or was (a rewrite renamed a new file over it since the open). */
export function isPathOf(opened: string, expected: string): boolean {
  return opened === expected || opened === `${expected} (deleted)`;
}

const etagOf = (s: { ino: bigint; mtimeNs: bigint; size: bigint }) => `"${s.ino}-${s.mtimeNs}-${s.size}"`;

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Why a file operation failed, without the path Node puts in its messages. */
function reasonOf(err: unknown): string {
  return errno(err) ?? (err as Error).message;
}

/** A partial upload in .tmp/ untouched this long was left by a process that died (default of removeStaleTemporaryFiles). */
export const STALE_TEMPORARY_MS = 60 * 60 * 1000;

export class FileObjectStore implements ObjectStore {
  readonly root: string;
  readonly bucket: string;
  /** The root with its own links resolved (the root may be under one, e.g. /tmp on macOS). */
  private realRoot: string | undefined;

  /** `dir` is the bucket: its base name is the bucket name in s3:// URIs of its objects. */
  constructor(dir: string) {
    this.root = resolve(dir);
    this.bucket = basename(this.root);
  }

  get uri(): string {
    return pathToFileURL(this.root).href;
  }

  private path(key: string): string {
    const parts = key.split('/');
    if (key.length === 0 || key.length > 1024 || key.includes('\0') || parts.some((p) => p === '' || p.startsWith('.'))) {
      throw new ObjectStoreError(`"${key}" is not a key this store accepts (empty, "." or ".."-led segments)`, 'invalid');
    }
    return join(this.root, ...parts);
  }

  /**
   * Whether the key's folders exist as real directories ('missing' when one does not exist yet); a
   * folder that is a symbolic link (or a file) is refused: what is under it is outside the store.
   */
  private async folders(key: string): Promise<'present' | 'missing'> {
    const parts = key.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const s = await lstat(join(this.root, ...parts.slice(0, i))).catch((err: unknown) => {
        if (errno(err) === 'ENOENT') return null;
        throw new ObjectStoreError(`reading ${this.name(key)} failed (${reasonOf(err)})`, 'storage', { cause: err });
      });
      if (!s) return 'missing';
      if (!s.isDirectory()) throw this.notInStore(key, parts.slice(0, i).join('/'));
    }
    return 'present';
  }

  private notInStore(key: string, what: string): ObjectStoreError {
    return new ObjectStoreError(
      `${this.name(key)}: ${what} is a symbolic link or not a folder; this store reads and writes only its own files`,
      'storage',
    );
  }

  async put(key: string, body: Buffer | string | Readable, o: PutOptions = {}): Promise<void> {
    const path = this.path(key);
    const tmpDir = join(this.root, TMP);
    const tmp = join(tmpDir, randomBytes(12).toString('hex'));
    try {
      await mkdir(tmpDir, { recursive: true });
      const source = typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body;
      const file = await open(tmp, 'wx');
      try {
        let size = 0;
        for await (const chunk of source) {
          const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
          for (let done = 0; done < bytes.length; ) done += (await file.write(bytes, done)).bytesWritten;
          size += bytes.length;
        }
        if (o.length !== undefined && size !== o.length)
          throw new ObjectStoreError(`writing ${this.name(key)}: got ${size} bytes, expected ${o.length}`, 'invalid');
        await file.sync(); // the bytes are on disk before the name points at them
      } finally {
        await file.close();
      }
      await this.folders(key); // before mkdir: no folder is made through a link
      await mkdir(join(path, '..'), { recursive: true });
      await this.folders(key); // after: none was swapped in meanwhile
      if (o.ifNoneMatch) {
        await link(tmp, path).catch((err: unknown) => {
          if (errno(err) === 'EEXIST') throw new ObjectStoreError(`${this.name(key)} already exists and is immutable`, 'conflict');
          throw err;
        });
      } else if (o.ifMatch !== undefined) {
        const expected = o.ifMatch;
        await this.withKeyLock(key, async () => {
          const current = await stat(path, { bigint: true }).catch(() => null);
          if (!current || etagOf(current) !== expected)
            throw new ObjectStoreError(`${this.name(key)} changed since it was read`, 'conflict');
          await rename(tmp, path);
        });
      } else {
        await rename(tmp, path);
      }
      await this.syncDir(join(path, '..'));
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      throw new ObjectStoreError(`writing ${this.name(key)} failed (${reasonOf(err)})`, 'storage', { cause: err });
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Runs `f` holding the key's lock file (created exclusively; removed after, or broken once stale). */
  private async withKeyLock<T>(key: string, f: () => Promise<T>): Promise<T> {
    const lock = join(this.root, TMP, `${createHash('sha256').update(key).digest('hex')}.lock`);
    for (let waited = 0; ; waited += 5) {
      const handle = await open(lock, 'wx').catch((err: unknown) => {
        if (errno(err) !== 'EEXIST') throw err;
        return null;
      });
      if (handle) {
        await handle.close();
        break;
      }
      const held = await stat(lock).catch(() => null);
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) await rm(lock, { force: true });
      else if (waited > 2 * LOCK_STALE_MS) throw new ObjectStoreError(`${this.name(key)}: its lock is held too long`, 'storage');
      else await new Promise((r) => setTimeout(r, 5));
    }
    try {
      return await f();
    } finally {
      await rm(lock, { force: true });
    }
  }

  /** The new name survives a crash too (best effort: not every filesystem lets a directory be fsynced). */
  private async syncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r').catch(() => null);
    if (!handle) return;
    await handle.sync().catch(() => {});
    await handle.close();
  }

  /** An object as clients know it: its s3:// URI (never the file's path on this server). */
  private name(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async get(key: string): Promise<ObjectBody | null> {
    const path = this.path(key);
    // Without /proc (not Linux), each folder is checked before the open instead (a race can swap one after).
    if (!PROC_FD && (await this.folders(key)) === 'missing') return null;
    let file: FileHandle;
    try {
      // O_NOFOLLOW: a symbolic link planted as an object is refused (ELOOP), never read through.
      file = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null;
      if (errno(err) === 'ELOOP') throw this.notInStore(key, 'the object');
      throw new ObjectStoreError(`reading ${this.name(key)} failed (${reasonOf(err)})`, 'storage', { cause: err });
    }
    try {
      if (PROC_FD) {
        // Where the opened file really is: any folder on the way that was a link (now or swapped in
        // before the open) makes it another path than the key's own.
        this.realRoot ??= realpathSync(this.root);
        if (!isPathOf(openedPath(file.fd), join(this.realRoot, ...key.split('/')))) throw this.notInStore(key, 'a folder');
      }
      // fstat of an open file reads its inode from memory: not worth a trip through the thread pool.
      const s = fstatSync(file.fd, { bigint: true });
      if (!s.isFile()) {
        await file.close();
        return null; // a "folder" of keys is not an object
      }
      return { stream: createReadStream('', { fd: file, highWaterMark: READ_CHUNK_BYTES }), size: Number(s.size), etag: etagOf(s) };
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  async listPage(o: ListOptions): Promise<ListPage> {
    const max = Math.min(o.maxKeys ?? MAX_KEYS, MAX_KEYS);
    let after = o.startAfter ?? '';
    if (o.continuationToken !== undefined) {
      const token = Buffer.from(o.continuationToken, 'base64url').toString('utf8');
      if (byteOrder(token, after) > 0) after = token;
    }
    const page: ListPage = { keys: [], prefixes: [] };
    let last = '';
    for await (const item of this.walk(o.prefix, o.delimiter, after)) {
      if (page.keys.length + page.prefixes.length === max) {
        page.next = Buffer.from(last, 'utf8').toString('base64url');
        break;
      }
      if ('prefix' in item) page.prefixes.push(item.prefix);
      else page.keys.push(item);
      last = 'prefix' in item ? item.prefix : item.key;
    }
    return page;
  }

  /** Keys under `prefix` after `after`, in byte order; with a delimiter, sub-folders as prefixes. */
  private async *walk(
    prefix: string,
    delimiter: '/' | undefined,
    after: string,
  ): AsyncGenerator<{ key: string; size: number } | { prefix: string }> {
    const cut = prefix.lastIndexOf('/') + 1;
    const base = prefix.slice(0, cut); // the folder the prefix ends in
    const dir = base === '' ? this.root : join(this.root, ...base.slice(0, -1).split('/'));
    if (
      base !== '' &&
      base
        .split('/')
        .slice(0, -1)
        .some((p) => p === '' || p.startsWith('.'))
    )
      return;
    yield* this.walkDir(dir, base, prefix, delimiter, after);
  }

  private async *walkDir(
    dir: string,
    base: string,
    prefix: string,
    delimiter: '/' | undefined,
    after: string,
  ): AsyncGenerator<{ key: string; size: number } | { prefix: string }> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return;
      throw new ObjectStoreError(`listing ${this.name(base)} failed (${reasonOf(err)})`, 'storage', { cause: err });
    }
    // A folder sorts as its name + "/": every key inside it does ("a-b" comes before "a/c").
    const named = entries
      .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isDirectory()))
      .map((e) => ({ e, key: base + e.name + (e.isDirectory() ? '/' : '') }))
      .filter(({ key }) => key.startsWith(prefix) || prefix.startsWith(key))
      .sort((a, b) => byteOrder(a.key, b.key));
    for (const { e, key } of named) {
      if (e.isFile()) {
        if (!key.startsWith(prefix) || byteOrder(key, after) <= 0) continue;
        const s = await stat(join(dir, e.name)).catch(() => null);
        if (s?.isFile()) yield { key, size: s.size };
        continue;
      }
      const rolledUp = delimiter === '/' && key.startsWith(prefix) && key.length > prefix.length;
      if (rolledUp) {
        if (byteOrder(key, after) > 0 && (await this.hasObjects(join(dir, e.name)))) yield { prefix: key };
        continue;
      }
      // Skip a folder whose every key sorts at or before `after`.
      if (after !== '' && byteOrder(key, after) <= 0 && !after.startsWith(key)) continue;
      yield* this.walkDir(join(dir, e.name), key, prefix, delimiter, after);
    }
  }

  /** S3 has no empty folders: a folder left empty by deletes is no common prefix. */
  private async hasObjects(dir: string): Promise<boolean> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      if (e.isFile() || (e.isDirectory() && (await this.hasObjects(join(dir, e.name))))) return true;
    }
    return false;
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    if ((await this.folders(key)) === 'missing') return;
    await unlink(path).catch((err: unknown) => {
      if (errno(err) !== 'ENOENT')
        throw new ObjectStoreError(`deleting ${this.name(key)} failed (${reasonOf(err)})`, 'storage', { cause: err });
    });
  }

  /**
   * Removes what writers left in .tmp/ untouched for `olderThanMs` (a process killed mid-upload leaves
   * its partial file there forever otherwise); the server calls it when it starts. Live writes touch
   * their file as they go, so only the dead are old. Returns how many were removed.
   */
  async removeStaleTemporaryFiles(olderThanMs = STALE_TEMPORARY_MS, now = Date.now()): Promise<number> {
    const dir = join(this.root, TMP);
    const names = await readdir(dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const s = await lstat(join(dir, name)).catch(() => null);
      if (!s || now - s.mtimeMs <= olderThanMs) continue;
      await rm(join(dir, name), { force: true, recursive: s.isDirectory() });
      removed++;
    }
    return removed;
  }

  /** Objects of this directory only: another bucket is not readable from here. */
  async objectState(bucket: string, key: string): Promise<'exists' | 'missing' | 'forbidden'> {
    if (bucket !== this.bucket) return 'forbidden';
    let path: string;
    try {
      path = this.path(key);
    } catch {
      return 'missing';
    }
    const folders = await this.folders(key).catch(() => 'missing' as const);
    // lstat: a symbolic link is no object of this store.
    const s = folders === 'present' ? await lstat(path).catch(() => null) : null;
    return s?.isFile() ? 'exists' : 'missing';
  }

  /** This store's own objects are local files (never through a link); other buckets stay s3:// URIs. */
  readableUri(bucket: string, key: string): string {
    if (bucket !== this.bucket) return `s3://${bucket}/${key}`;
    const path = this.path(key);
    const parts = key.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const s = (() => {
        try {
          return lstatSync(join(this.root, ...parts.slice(0, i)));
        } catch {
          return null; // missing: the reader says so
        }
      })();
      if (s?.isSymbolicLink()) throw this.notInStore(key, parts.slice(0, i).join('/'));
    }
    return pathToFileURL(path).href;
  }
}
