/**
 * The policies the product relies on, by id: every `forbid` that keeps a permit elsewhere from reaching too far
 * (the guardrails, and the command module's own). A policy directory that lacks one, or where one is no longer a
 * forbid, refuses to start, whatever else it holds: with `guardrails.cedar` deleted the server used to start and a
 * password-only owner passed the transfer authorization (issue 18). The list lives in the code, not beside the
 * policies, so deleting a file cannot delete its requirement too. An operator may tighten these policies' conditions;
 * removing one is a code change.
 */
export const REQUIRED_POLICIES: readonly string[] = [
  'guardrail.services-only-read',
  'guardrail.closed-service-cases',
  'guardrail.consent-only-when-requested',
  'guardrail.mfa-for-critical-changes',
  'guardrail.fresh-sign-in-for-credential-changes',
  'guardrail.fresh-sign-in-for-invitations',
  'guardrail.step-up-commands',
  'commands.immobilize-only-security-admin',
  'commands.diagnostics-only-dealer-owner-fleet-admin',
  'commands.missing-scope',
  'self.invite-needs-granting-role',
  'webhook.person-needs-admin-scope',
  'admin.elevation-for-sensitive',
  'admin.elevation-for-release',
  'admin.responder-only-quarantines',
  'admin.elevation-for-terminal-transitions',
  'admin.approval-for-fleet-wide',
];

/** What is wrong with `policies` (id to text) against the manifest: one line per missing or weakened policy. */
export function requiredPolicyProblems(policies: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const id of REQUIRED_POLICIES) {
    const text = policies[id];
    if (text === undefined) problems.push(`${id} is missing`);
    // After its annotations, the policy's effect: a required forbid turned into a permit no longer forbids.
    else if (!/^\s*(@\w+\([^)]*\)\s*)*forbid\b/.test(text)) problems.push(`${id} is no longer a forbid`);
  }
  return problems;
}
