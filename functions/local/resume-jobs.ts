/**
 * Jobs a previous run of the local server left unfinished (status queued or running: it stopped, or
 * was killed, before they ended) go back to the runner; the trainer resumes from their checkpoints.
 */
import { awaitsRunner } from '../../shared/job-lifecycle.ts';
import type { Registry } from '../../shared/registry/index.ts';
import type { JobLauncher } from '../jobs/launcher.ts';

export async function resumeUnfinishedJobs(registry: Registry, launcher: JobLauncher): Promise<string[]> {
  // Every job, through the registry's listing index (newest first, a page at a time).
  const newestFirst: string[] = [];
  for (let hasMore = true; hasMore; ) {
    const page = await registry.jobs.listIds({ limit: 1000, after: newestFirst.at(-1) });
    newestFirst.push(...page.ids);
    hasMore = page.hasMore;
  }
  const resumed: string[] = [];
  // Resume in the order they were submitted.
  for (const jobId of newestFirst.reverse()) {
    const status = await registry.jobs.status(jobId);
    if (status?.state !== 'queued' && status?.state !== 'running') continue;
    // Not one cancelled while its trainer was stopping.
    if (!awaitsRunner(status, await registry.jobs.cancelRequest(jobId))) continue;
    const spec = await registry.jobs.spec(jobId);
    const handle = await launcher.submit({ jobId, task: spec.task });
    await registry.jobs.putLaunch(jobId, handle);
    resumed.push(jobId);
  }
  return resumed;
}
