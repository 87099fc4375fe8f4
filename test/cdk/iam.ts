/** Reads IAM statements out of a synthesized template, with ARNs flattened to comparable strings. */
import type { Template } from 'aws-cdk-lib/assertions';

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Sid?: string;
  Condition?: unknown;
}

/** Fn::Join / Fn::GetAtt / Ref to a readable string, e.g. `${RegistryBucket.Arn}/jobs/*`. */
export function flatten(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(sep);
    }
    if ('Fn::GetAtt' in o) return `\${${(o['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Ref' in o) return `\${${String(o.Ref)}}`;
  }
  return JSON.stringify(v);
}

const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every statement of the inline policies attached to a role (by logical id). */
export function roleStatements(template: Template, roleLogicalId: string): Statement[] {
  const out: Statement[] = [];
  for (const r of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const p = (r as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties;
    if (!p.Roles.some((role) => role.Ref === roleLogicalId)) continue;
    for (const s of p.PolicyDocument.Statement) {
      out.push({
        Effect: s.Effect as 'Allow' | 'Deny',
        Action: arr(s.Action as string | string[]),
        Resource: arr(s.Resource as unknown).map(flatten),
        Sid: s.Sid as string | undefined,
        ...(s.Condition !== undefined ? { Condition: s.Condition } : {}),
      });
    }
  }
  return out;
}

/** Resources an allow statement grants `action` on (exact action or a matching `prefix*` wildcard). */
export function allowedResources(statements: Statement[], action: string): string[] {
  const matches = (a: string) => a === action || a === '*' || (a.endsWith('*') && action.startsWith(a.slice(0, -1)));
  return statements.filter((s) => s.Effect === 'Allow' && s.Action.some(matches)).flatMap((s) => s.Resource);
}
