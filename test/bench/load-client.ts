/**
 * A lean HTTP/1.1 load client for the benchmarks: keep-alive sockets, requests written as prepared bytes,
 * responses parsed only far enough to find their end (status line and Content-Length), bodies counted and
 * dropped. It costs a few microseconds a request where autocannon parses every body in JS, so on a 2-core
 * machine shared with the server it measures the server rather than itself.
 *
 * - `constantRate`: open loop, like wrk2: request i is due at start + i/rate whether or not earlier ones
 *   were answered, and its latency counts from when it was due (a stalled server cannot hide its stall by
 *   slowing the client down: no coordinated omission). Also reported: latency from when it was sent.
 * - `drain`: closed loop, `streams` sockets each fetching one response after another: bytes per second.
 */
import { connect, type Socket } from 'node:net';

export interface Target {
  host: string;
  port: number;
  path: string;
  headers: Record<string, string>;
  /** Sent as a POST with its Content-Length (the caller names its Content-Type); absent: a GET. */
  body?: string;
}

/** Who waits for the next response on a connection: its status and body size, or why there is none. */
interface Pending {
  done: (status: number, bodyBytes: number) => void;
  fail: (err: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Reads responses off one keep-alive socket, in order. Only Content-Length framing is understood (every
 * route measured here sends it); anything else fails loudly rather than miscounting.
 */
export class ResponseReader {
  private head = Buffer.alloc(0);
  private status = 0;
  private bodyLeft = -1; // -1: reading a head
  private bodyBytes = 0;
  constructor(private readonly next: () => Pending | undefined) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.bodyLeft < 0) {
        const joined = this.head.length > 0 ? Buffer.concat([this.head, chunk.subarray(at)]) : chunk.subarray(at);
        const end = joined.indexOf(HEADER_END);
        if (end < 0) {
          this.head = Buffer.from(joined);
          return;
        }
        const text = joined.subarray(0, end).toString('latin1');
        const consumed = end + 4 - this.head.length; // of this chunk, from `at`
        this.head = Buffer.alloc(0);
        at += consumed;
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
        const length = /\r\ncontent-length: *(\d+)/i.exec(text);
        if (!m || !length) throw new Error(`a response without a status line or Content-Length:\n${text}`);
        this.status = Number(m[1]);
        this.bodyLeft = Number(length[1]);
        this.bodyBytes = 0;
      }
      const take = Math.min(this.bodyLeft, chunk.length - at);
      at += take;
      this.bodyLeft -= take;
      this.bodyBytes += take;
      if (this.bodyLeft === 0) {
        this.bodyLeft = -1;
        const p = this.next();
        if (!p) throw new Error('a response nobody asked for');
        p.done(this.status, this.bodyBytes);
      }
    }
  }
}

/** A keep-alive connection that sends one request at a time. */
class Connection {
  private readonly socket: Socket;
  private waiting: Pending | undefined;
  private readonly reader = new ResponseReader(() => {
    const p = this.waiting;
    this.waiting = undefined;
    return p;
  });

  constructor(
    target: Target,
    private readonly request: Buffer,
  ) {
    this.socket = connect({ host: target.host, port: target.port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.socket.destroy(err as Error);
      }
    });
    const failed = (err?: Error) => {
      const p = this.waiting;
      this.waiting = undefined;
      p?.fail(err ?? new Error('the server closed the connection'));
    };
    this.socket.on('error', failed);
    this.socket.on('close', () => failed());
  }

  get busy(): boolean {
    return this.waiting !== undefined;
  }

  send(p: Pending, request = this.request): void {
    if (this.socket.destroyed) {
      p.fail(new Error('the connection is closed'));
      return;
    }
    this.waiting = p;
    this.socket.write(request);
  }

  close(): void {
    this.socket.destroy();
  }
}

export function requestBytes(t: Target): Buffer {
  const head = [`${t.body === undefined ? 'GET' : 'POST'} ${t.path} HTTP/1.1`, `host: ${t.host}:${t.port}`];
  for (const [k, v] of Object.entries(t.headers)) head.push(`${k}: ${v}`);
  if (t.body === undefined) return Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
  const body = Buffer.from(t.body, 'utf8');
  head.push(`content-length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/**
 * One keep-alive socket, one request at a time (closed loop): each `send` writes prepared bytes
 * (`requestBytes`) and resolves with the response's status once its body is in. For sequential latency
 * without an HTTP client's own cost (fetch parses and copies far more than the server's answer needs).
 */
export function sequentialClient(target: Target): { send(request: Buffer): Promise<number>; close(): void } {
  const c = new Connection(target, requestBytes(target));
  return {
    send: (request) => new Promise((done, fail) => c.send({ done: (status) => done(status), fail }, request)),
    close: () => c.close(),
  };
}

export interface RateResult {
  offered: number;
  /** Requests due in the window (floor(seconds x rate)). */
  due: number;
  completed: number;
  /** Due but not answered within `grace` seconds after the last was due (counted as infinitely late). */
  unanswered: number;
  non2xx: number;
  errors: number;
  /** Answered per second, over the time from the first due request to the last answer. */
  achieved: number;
  /** Milliseconds from when each request was due (open loop), sorted ascending; Infinity for the unanswered. */
  fromDue: Float64Array;
  /** Milliseconds from when each answered request was written to its socket, sorted ascending. */
  fromSent: Float64Array;
}

export const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/**
 * `rate` requests a second for `seconds`, due at fixed times, over up to `connections` sockets; requests
 * still unanswered `grace` seconds after the last was due are given up (a server that cannot keep up would
 * otherwise make the run as long as its backlog).
 */
export async function constantRate(
  target: Target,
  o: { rate: number; seconds: number; connections: number; grace: number },
): Promise<RateResult> {
  const request = requestBytes(target);
  const pool = Array.from({ length: o.connections }, () => new Connection(target, request));
  const due = Math.floor(o.seconds * o.rate);
  const fromDue = new Float64Array(due);
  const fromSent = new Float64Array(due);
  let scheduled = 0; // requests whose due time has come
  let sentCount = 0;
  let completed = 0;
  let non2xx = 0;
  let errors = 0;
  const start = performance.now();
  const dueAt = (i: number) => start + (i * 1000) / o.rate;
  let finished: () => void = () => {};
  const allDone = new Promise<void>((r) => (finished = r));
  let lastAnswer = start;

  const settle = () => {
    if (completed + errors === due) finished();
  };
  const dispatch = () => {
    for (const c of pool) {
      if (sentCount === scheduled) return;
      if (c.busy) continue;
      const i = sentCount++;
      const sentAt = performance.now();
      c.send({
        done: (status) => {
          const now = performance.now();
          fromDue[completed] = now - dueAt(i);
          fromSent[completed] = now - sentAt;
          completed++;
          lastAnswer = now;
          if (status < 200 || status > 299) non2xx++;
          dispatch();
          settle();
        },
        fail: () => {
          errors++;
          settle();
        },
      });
    }
  };
  // Timers rather than a busy loop: the client must leave the CPU to the server it shares it with.
  const tick = () => {
    scheduled = Math.min(due, Math.floor(((performance.now() - start) * o.rate) / 1000) + 1);
    dispatch();
    if (scheduled < due) setTimeout(tick, 1);
  };
  tick();
  let giveUp: NodeJS.Timeout | undefined;
  await Promise.race([allDone, new Promise<void>((r) => (giveUp = setTimeout(r, (o.seconds + o.grace) * 1000)))]);
  clearTimeout(giveUp);
  const answered = completed;
  const failed = errors;
  for (const c of pool) c.close();
  fromDue.fill(Number.POSITIVE_INFINITY, answered);
  return {
    offered: o.rate,
    due,
    completed: answered,
    unanswered: due - answered - failed,
    non2xx,
    errors: failed,
    achieved: answered / ((lastAnswer - start) / 1000),
    fromDue: fromDue.sort(),
    fromSent: fromSent.subarray(0, answered).sort(),
  };
}

export interface DrainResult {
  bytes: number;
  responses: number;
  non2xx: number;
  seconds: number;
}

/** `streams` sockets, each fetching `target` again as soon as a response ends, for `seconds`; bodies counted. */
export async function drain(target: Target, o: { streams: number; seconds: number }): Promise<DrainResult> {
  const request = requestBytes(target);
  let bytes = 0;
  let responses = 0;
  let non2xx = 0;
  const start = performance.now();
  const until = start + o.seconds * 1000;
  await Promise.all(
    Array.from({ length: o.streams }, async () => {
      const c = new Connection(target, request);
      try {
        while (performance.now() < until) {
          await new Promise<void>((done, fail) =>
            c.send({
              done: (status, body) => {
                bytes += body;
                responses++;
                if (status < 200 || status > 299) non2xx++;
                done();
              },
              fail,
            }),
          );
        }
      } finally {
        c.close();
      }
    }),
  );
  return { bytes, responses, non2xx, seconds: (performance.now() - start) / 1000 };
}
