/**
 * Jobs a previous run of the local server left unfinished (status queued or running: it stopped, or
 * was killed, before they ended) go back to the runner; the trainer resumes from their checkpoints.
 */
import type { Registry } from '../../shared/registry.ts';
import type { JobLauncher } from '../jobs/launcher.ts';

export async function resumeUnfinishedJobs(registry: Registry, launcher: JobLauncher): Promise<string[]> {
  const prefix = registry.key('jobs', '');
  const { prefixes } = await registry.list(prefix, '/');
  const resumed: string[] = [];
  // Job ids sort by creation time: resume in the order they were submitted.
  for (const p of prefixes.sort()) {
    const jobId = p.slice(prefix.length).replace(/\/$/, '');
    const status = await registry.getJobStatus(jobId);
    if (status?.state !== 'queued' && status?.state !== 'running') continue;
    if (await registry.getJobCancel(jobId)) continue; // cancelled while its trainer was stopping
    const spec = await registry.getJobSpec(jobId);
    const handle = await launcher.submit({ jobId, task: spec.task });
    await registry.putJobLaunch(jobId, handle);
    resumed.push(jobId);
  }
  return resumed;
}
