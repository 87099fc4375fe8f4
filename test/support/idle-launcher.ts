/** A launcher for app tests that never run a job: submit records nothing, describe knows nothing. */
import type { JobLauncher } from '../../functions/jobs/launcher.ts';

export const idleLauncher: JobLauncher = {
  submit: async (job) => ({ jobId: job.jobId, externalId: job.jobId }),
  cancel: async () => {},
  describe: async () => ({ state: 'unknown' }),
};
