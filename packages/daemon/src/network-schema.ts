/** network.json's schema (state.ts loads it on first use: zod is no start-up cost for clients). */
import { z } from 'zod'

export const networkSchema = z.object({
  networkId: z.string().min(1),
  owner: z.string().min(1),
  role: z.enum(['owner', 'member']),
  keyName: z.string().nullable(),
  bootstrap: z.array(z.string()),
  claim: z.string().nullable(),
  minPolicyVersion: z.number().int().min(1).optional(),
})
