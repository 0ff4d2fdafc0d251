import { z } from 'zod';
import { durationSchema } from '../analysis/gates-schema.js';

/** What a receiver can be told about; each is one kind of journal record (see events.ts). */
export const NOTIFICATION_EVENTS = [
  'run-started', 'run-resumed', 'stage-changed', 'approval-needed', 'approved', 'weight-changed', 'ramp-held',
  'rolled-back', 'rollback-failed', 'rollback-completed', 'run-paused', 'run-completed', 'run-failed', 'run-aborted',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** `env:NAME` or `secret:NAMESPACE/NAME/KEY`: plans keep no secrets (src/run/references.ts). */
const reference = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|secret:[^/\s]+\/[^/\s]+\/[^/\s]+)$/, 'a reference: env:NAME or secret:NAMESPACE/NAME/KEY (never the value itself)');

export const notificationReceiverSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'lowercase letters, digits and "-"').describe('Names the receiver in logs and the journal (its URL never appears there).'),
    type: z.enum(['webhook', 'slack']).describe('webhook: a JSON body signed with X-Ferry-Signature (docs/notifications.md); slack: a Slack incoming-webhook message (text and blocks).'),
    url: z.url({ protocol: /^https?$/ }).optional().describe('Where to POST. A Slack webhook URL is a secret: give it with urlFrom instead.'),
    urlFrom: reference.optional().describe('Where the URL is read: env:NAME (Ferry\'s environment) or secret:NAMESPACE/NAME/KEY (a Secret on the source cluster).'),
    secret: reference.optional().describe('webhook only: the HMAC-SHA256 signing key, as env:NAME or secret:NAMESPACE/NAME/KEY. Without it the body is sent unsigned.'),
    events: z.array(z.enum(NOTIFICATION_EVENTS)).min(1).optional().describe(`Events to send (default all): ${NOTIFICATION_EVENTS.join(', ')}.`),
    timeout: durationSchema.default('5s').describe('How long one attempt may take before it counts as failed.'),
    retries: z.number().int().min(0).max(10).default(4).describe('Attempts after the first, with exponential backoff (0.5 s doubling, at most 30 s, Retry-After honoured).'),
    giveUpAfter: durationSchema.default('2m').describe('Longest time spent on one notification, retries included; later notifications to this receiver wait behind it.'),
  })
  .strict()
  .refine((receiver) => (receiver.url === undefined) !== (receiver.urlFrom === undefined), { message: 'give exactly one of url and urlFrom', path: ['url'] })
  .refine((receiver) => receiver.type === 'webhook' || receiver.secret === undefined, { message: 'secret signs webhook bodies; a Slack webhook URL is its own secret', path: ['secret'] });

export const notificationsSchema = z
  .array(notificationReceiverSchema)
  .refine((receivers) => new Set(receivers.map((receiver) => receiver.name)).size === receivers.length, 'receiver names must be unique')
  .describe('Who is told when stages change, approvals are needed, slices roll back and the run ends. Delivery is retried and never blocks or slows the run.');

export type NotificationReceiver = z.infer<typeof notificationReceiverSchema>;
export type NotificationsSettings = z.infer<typeof notificationsSchema>;
