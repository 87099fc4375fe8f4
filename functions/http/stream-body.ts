/**
 * A Node stream as a Response body without copying it: `Readable.toWeb` copies every Buffer chunk into a
 * new Uint8Array (to detach it from Buffer's shared pool), a megabyte per chunk of a download. A file
 * stream's chunks are its own buffers, never pooled, so they can be passed on as they are.
 */
import type { Readable } from 'node:stream';

/** Chunks of `source` (Buffers it allocated for itself), paused while the body's reader is one chunk behind. */
export function responseBodyOf(source: Readable): ReadableStream<Uint8Array> {
  // Once the body is closed, errored or cancelled, its controller throws on enqueue and close.
  let open = true;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        source.pause();
        source.on('data', (chunk: Buffer) => {
          if (!open) return;
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) source.pause();
        });
        source.once('end', () => {
          if (open) controller.close();
          open = false;
        });
        source.once('error', (err) => {
          if (open) controller.error(err);
          open = false;
        });
      },
      pull() {
        source.resume();
      },
      cancel(reason: unknown) {
        open = false;
        source.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: 1 },
  );
}
