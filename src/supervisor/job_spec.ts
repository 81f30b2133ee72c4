import { z } from "zod";

const common = {
  /** The weighted-fair share it counts against. @default {the model id, or the command} */
  backend: z.string().min(1).max(200).optional(),
  /** Lower runs first under the `priority` policy. */
  priority: z.number().int().default(0),
  /** Amounts reserved from `jobs.resources` pools while it runs, e.g. `{ "cpu": 2 }`. */
  resources: z.record(z.string(), z.number().positive()).default({}),
  /** Deadline, counted from its start: overrunning kills it and reports `timed_out`. */
  timeout_s: z.number().positive().max(86_400).default(300),
};

/** `POST /jobs` body: a one-shot completion with the bundle, or an allow-listed command. */
export const JobSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("inference"),
    /** A `[models.<id>]` id. */
    model: z.string().min(1),
    prompt: z.string(),
    n_predict: z.number().int().positive().max(65_536).default(64),
    /** Sampler seed: the same seed gives the same text. @default {random} */
    seed: z.number().int().min(0).max(0xffff_ffff).optional(),
    ...common,
  }),
  z.strictObject({
    kind: z.literal("custom"),
    /** Absolute path; must be listed in `jobs.allow_commands`. */
    command: z.string().refine((p) => p.startsWith("/"), { message: "must be an absolute path" }),
    args: z.array(z.string()).default([]),
    ...common,
  }),
]);

/** A validated job request, defaults applied. */
export type JobSpec = z.infer<typeof JobSpecSchema>;

/** Input of {@linkcode JobSpecSchema} (what a client sends). */
export type JobSpecInput = z.input<typeof JobSpecSchema>;

/** A job request that cannot be accepted (the HTTP layer answers 400 with its message). */
export class InvalidJobError extends Error {
  /** Every problem, as "path: message". */
  readonly issues: readonly string[];

  /** Constructs a new instance. */
  constructor(issues: readonly string[]) {
    super(`Cannot accept the job: ${issues.join("; ")}`);
    this.name = "InvalidJobError";
    this.issues = issues;
  }
}

/**
 * Validates a job request.
 *
 * @throws {InvalidJobError} naming every problem with its path.
 */
export function parseJobSpec(input: unknown): JobSpec {
  const result = JobSpecSchema.safeParse(input);
  if (result.success) return result.data;
  throw new InvalidJobError(
    result.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`),
  );
}
