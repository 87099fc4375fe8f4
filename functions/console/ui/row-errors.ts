/**
 * Row errors of a refused dataset upload, as POST /datasets reports them ("<file>:<line>: <reason>" in its
 * problem's invalid-params): line number and reason, for the upload form. Pure (no DOM).
 */

export interface RowError {
  line: number | null;
  reason: string;
}

interface ProblemLike {
  detail?: string;
  'invalid-params'?: { name: string; reason: string }[];
}

export function rowErrors(problem: ProblemLike): RowError[] {
  const reasons = problem['invalid-params']?.map((p) => p.reason) ?? (problem.detail ? [problem.detail] : []);
  return reasons.map((r) => {
    const m = /^.+?:(\d+): ([\s\S]*)$/.exec(r);
    return m ? { line: Number(m[1]), reason: m[2] } : { line: null, reason: r };
  });
}
