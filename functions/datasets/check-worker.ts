/**
 * Worker-thread entry of the dataset check (functions/datasets/checker.ts): runs the check on the file
 * it is given and posts the reply back. A thread of its own, so a slow or hostile file costs this
 * thread's time and heap, never the server's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DatasetColumns, InspectLimits } from '../../shared/training-data/index.ts';
import { runCheck } from './checker.ts';

const { file, limits, columns } = workerData as { file: string; limits: InspectLimits; columns: DatasetColumns };
parentPort!.postMessage(await runCheck(file, limits, columns));
