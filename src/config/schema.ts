import { z } from "zod";

/** A path that must be absolute: relative paths would depend on the working directory. */
const absolutePath = z.string().refine((p) => p.startsWith("/"), {
  message: "must be an absolute path",
});

/** An environment variable name. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
  message: "must be an environment variable name",
});

const positiveInt = z.number().int().positive();

/** `[server]`: the HTTP endpoint. */
export const ServerConfigSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(8080),
  token_env: envName.default("EDGELLM_TOKEN"),
  max_body_bytes: positiveInt.default(1_048_576),
  request_timeout_s: z.number().positive().default(300),
  max_queue: z.number().int().min(0).default(64),
  metrics_public: z.boolean().default(false),
});

/** `[hub]`: where models come from. */
export const HubConfigSchema = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/ }).default("https://huggingface.co"),
  token_env: envName.default("HF_TOKEN"),
  offline: z.boolean().default(false),
});

/** `[models.<id>]`: a model from the hub (`hf_repo`) or a local file (`path`). */
export const ModelConfigSchema = z.strictObject({
  hf_repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { message: 'must look like "org/name"' })
    .optional(),
  revision: z.string().min(1).default("main"),
  include: z.array(z.string().min(1)).min(1).default(["*.gguf"]),
  path: absolutePath.optional(),
}).superRefine((model, ctx) => {
  if ((model.hf_repo === undefined) === (model.path === undefined)) {
    ctx.addIssue({ code: "custom", message: 'needs exactly one of "hf_repo" or "path"' });
  }
});

const AUTO_OR_COUNT = 'must be "auto" or a positive whole number';

/** `threads`: "auto" (from the CPU count) or a positive count. */
export const ThreadsSchema = z.union([
  z.literal("auto"),
  z.number().int({ error: AUTO_OR_COUNT }).positive({ error: AUTO_OR_COUNT }),
], { error: AUTO_OR_COUNT });

/** `restart = { … }`: the restart budget and backoff of a runtime. */
export const RestartConfigSchema = z.strictObject({
  max_restarts: z.number().int().min(0).default(5),
  window_s: z.number().positive().default(300),
  backoff_initial_ms: z.number().int().min(0).default(500),
  backoff_max_ms: z.number().int().min(0).default(30_000),
});

/** `health = { … }`: how a runtime is probed. */
export const HealthConfigSchema = z.strictObject({
  interval_ms: positiveInt.default(2000),
  timeout_ms: positiveInt.default(1000),
  failures_before_restart: positiveInt.default(3),
  startup_timeout_s: z.number().positive().default(120),
  /** A one-token completion at this interval proves the server can generate; 0 = off. */
  deep_interval_ms: z.number().int().min(0).default(0),
});

/** `run_as = { uid, gid }`: when edgellm runs as root, children drop to this user and group. */
export const RunAsSchema = z.strictObject({
  uid: z.number().int().min(0),
  gid: z.number().int().min(0),
});

/** `[runtimes.<id>]`: one long-lived llama-server. */
export const RuntimeConfigSchema = z.strictObject({
  model: z.string().min(1),
  engine: z.literal("llama-server").default("llama-server"),
  engine_path: absolutePath.optional(),
  auto_start: z.boolean().default(true),
  threads: ThreadsSchema.default("auto"),
  ctx_size: positiveInt.default(4096),
  parallel: positiveInt.default(2),
  args: z.array(z.string()).default([]),
  restart: RestartConfigSchema.default(RestartConfigSchema.parse({})),
  health: HealthConfigSchema.default(HealthConfigSchema.parse({})),
  run_as: RunAsSchema.optional(),
});

/** `[jobs]`: one-shot launches. */
export const JobsConfigSchema = z.strictObject({
  concurrency: ThreadsSchema.default("auto"),
  policy: z.enum(["weighted-fair", "priority", "resource-aware"]).default("weighted-fair"),
  /** Weights of named backends for the weighted-fair policy; unnamed ones weigh 1. */
  weights: z.record(z.string(), z.number().positive()).default({}),
  resources: z.record(z.string(), z.number().positive()).default({}),
  allow_commands: z.array(absolutePath).default([]),
  run_as: RunAsSchema.optional(),
});

/** The whole configuration file. */
export const ConfigSchema = z.strictObject({
  server: ServerConfigSchema.default(ServerConfigSchema.parse({})),
  hub: HubConfigSchema.default(HubConfigSchema.parse({})),
  models: z.record(z.string().regex(/^[\w.-]+$/), ModelConfigSchema).default({}),
  runtimes: z.record(z.string().regex(/^[\w.-]+$/), RuntimeConfigSchema).default({}),
  jobs: JobsConfigSchema.default(JobsConfigSchema.parse({})),
}).superRefine((config, ctx) => {
  for (const [id, runtime] of Object.entries(config.runtimes)) {
    if (!Object.hasOwn(config.models, runtime.model)) {
      const known = Object.keys(config.models).map((m) => `"${m}"`).join(", ") || "none";
      ctx.addIssue({
        code: "custom",
        path: ["runtimes", id, "model"],
        message: `names model "${runtime.model}", which is not defined (defined: ${known})`,
      });
    }
  }
});

/** The validated configuration, defaults applied. */
export type Config = z.infer<typeof ConfigSchema>;
/** `[server]` after validation. */
export type ServerConfig = Config["server"];
/** `[hub]` after validation. */
export type HubConfig = Config["hub"];
/** One `[models.<id>]` after validation. */
export type ModelConfig = z.infer<typeof ModelConfigSchema>;
/** One `[runtimes.<id>]` after validation. */
export type RuntimeConfig = z.infer<typeof RuntimeConfigSchema>;
/** `[jobs]` after validation. */
export type JobsConfig = Config["jobs"];
