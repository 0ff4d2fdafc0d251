import { z } from 'zod';

/**
 * `spec.trust`: how what a cluster vouches for (sealing keys, certificates, workload
 * identities) is carried to the target. Every field is optional: without it Ferry finds the
 * target controller's public certificate on the target cluster itself.
 */
const certificateSourceSchema = z.union([
  z.object({ file: z.string().min(1).describe('PEM file with the target controller\'s public certificate (`kubeseal --fetch-cert` writes one).') }).strict(),
  z
    .object({
      secret: z
        .object({
          namespace: z.string().min(1),
          name: z.string().min(1),
          key: z.string().min(1).default('tls.crt').refine((key) => key !== 'tls.key', 'tls.key is the private key: name the public certificate (tls.crt)'),
        })
        .strict()
        .describe('A Secret or key on the target cluster holding the public certificate; only that key is read.'),
    })
    .strict(),
]);

export const trustSchema = z
  .object({
    sealedSecrets: z
      .object({
        certificate: certificateSourceSchema
          .optional()
          .describe('The target sealed-secrets controller\'s public certificate. Default: fetched from the target (the controller Service\'s /v1/cert.pem, else tls.crt of its active key Secret).'),
        controller: z
          .object({ namespace: z.string().min(1).default('kube-system'), service: z.string().min(1).default('sealed-secrets-controller') })
          .strict()
          .optional()
          .describe('Where the target controller runs (default kube-system/sealed-secrets-controller).'),
      })
      .strict()
      .optional()
      .describe('SealedSecrets are re-sealed for the target controller; its private key never moves.'),
  })
  .strict();

export type TrustSettings = z.infer<typeof trustSchema>;
export type SealingCertificateSource = z.infer<typeof certificateSourceSchema>;
