import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import {
  parseConfig,
  ServerConfigSchema,
  SYSTEM_CONFIG_PATH,
  SYSTEM_HOME,
} from "../../src/config/mod.ts";
import { VERSION } from "../../src/version.ts";

const MANIFEST = new URL("../../deploy/kubernetes/edgellm.yaml", import.meta.url);

/** The parts of the objects the tests look at; everything else passes through. */
const EnvVar = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.object({
    secretKeyRef: z.object({ name: z.string(), key: z.string(), optional: z.boolean().optional() }),
  }).optional(),
});
const Mount = z.object({
  name: z.string(),
  mountPath: z.string(),
  readOnly: z.boolean().optional(),
});
const Probe = z.object({
  httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }),
});
const SecurityContext = z.object({
  allowPrivilegeEscalation: z.literal(false),
  readOnlyRootFilesystem: z.literal(true),
  capabilities: z.object({ drop: z.tuple([z.literal("ALL")]) }).loose(),
}).loose();
const Container = z.object({
  name: z.string(),
  image: z.string(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(EnvVar).default([]),
  ports: z.array(z.object({ name: z.string(), containerPort: z.number() })).default([]),
  volumeMounts: z.array(Mount).default([]),
  livenessProbe: Probe.optional(),
  readinessProbe: Probe.optional(),
  resources: z.object({
    requests: z.record(z.string(), z.string()),
    limits: z.record(z.string(), z.string()),
  }).optional(),
  securityContext: SecurityContext,
});
const DaemonSet = z.object({
  kind: z.literal("DaemonSet"),
  spec: z.object({
    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
    template: z.object({
      metadata: z.object({ labels: z.record(z.string(), z.string()) }),
      spec: z.object({
        terminationGracePeriodSeconds: z.number(),
        securityContext: z.object({ runAsNonRoot: z.literal(true) }).loose(),
        initContainers: z.array(Container),
        containers: z.array(Container),
        volumes: z.array(z.object({ name: z.string() }).loose()),
      }),
    }),
  }),
});
const ConfigMap = z.object({
  kind: z.literal("ConfigMap"),
  metadata: z.object({ name: z.string() }),
  data: z.record(z.string(), z.string()),
});

async function load() {
  const documents = parseAllDocuments(await Deno.readTextFile(MANIFEST));
  assert.ok(Array.isArray(documents), "the manifest is empty");
  for (const document of documents) {
    assert.deepEqual(document.errors, [], String(document.errors[0]));
    assert.deepEqual(document.warnings, []);
  }
  const objects = documents.map((document) => document.toJS() as { kind?: unknown });
  assert.deepEqual(objects.map((o) => o.kind), ["ConfigMap", "DaemonSet"]);
  const daemonSet = DaemonSet.parse(objects.find((o) => o.kind === "DaemonSet"));
  const configMap = ConfigMap.parse(objects.find((o) => o.kind === "ConfigMap"));
  const pod = daemonSet.spec.template.spec;
  const serve = pod.containers.find((c) => c.name === "serve");
  assert.ok(serve, "no serve container");
  return { daemonSet, configMap, pod, serve };
}

function envValue(container: z.infer<typeof Container>, name: string) {
  return container.env.find((e) => e.name === name);
}

Deno.test("the DaemonSet probes /health and /ready on the port the product serves", async () => {
  const { configMap, serve } = await load();
  const config = parseConfig(configMap.data["edgellm.toml"] ?? "", { env: {} });
  const port = serve.ports.find((p) => p.name === "http")?.containerPort;
  assert.equal(port, ServerConfigSchema.parse({}).port);
  assert.equal(port, config.server.port);
  assert.deepEqual(serve.livenessProbe?.httpGet, { path: "/health", port: "http" });
  assert.deepEqual(serve.readinessProbe?.httpGet, { path: "/ready", port: "http" });
  const args = serve.args ?? [];
  assert.deepEqual(args.slice(0, 1), ["serve"]);
  assert.equal(args[args.indexOf("--port") + 1], String(port));
});

Deno.test("the DaemonSet listens beyond loopback only with the token from a Secret", async () => {
  const { configMap, serve } = await load();
  const args = serve.args ?? [];
  // Probes come from the pod network, so serve listens on all interfaces…
  assert.equal(args[args.indexOf("--host") + 1], "0.0.0.0");
  // …which the product allows only with a token, read from the configured variable.
  const config = parseConfig(configMap.data["edgellm.toml"] ?? "", { env: {} });
  const token = envValue(serve, config.server.token_env);
  assert.equal(token?.valueFrom?.secretKeyRef.name, "edgellm");
  assert.equal(token?.valueFrom?.secretKeyRef.optional, undefined);
});

Deno.test("the DaemonSet keeps the home on the node and reads the config where the binary may", async () => {
  const { daemonSet, pod, serve } = await load();
  const bootstrap = pod.initContainers.find((c) => c.args?.[0] === "bootstrap");
  assert.ok(bootstrap, "no init container runs bootstrap");
  for (const container of [bootstrap, serve]) {
    assert.equal(envValue(container, "EDGELLM_HOME")?.value, SYSTEM_HOME);
    const home = container.volumeMounts.find((m) => m.mountPath === SYSTEM_HOME);
    const config = container.volumeMounts.find((m) =>
      `${m.mountPath}/edgellm.toml` === SYSTEM_CONFIG_PATH
    );
    assert.ok(home && config, `${container.name} lacks the home or config mount`);
    assert.equal(config.readOnly, true);
    const volume = pod.volumes.find((v) => v.name === home.name);
    assert.deepEqual(volume?.["hostPath"], { path: SYSTEM_HOME, type: "DirectoryOrCreate" });
    assert.deepEqual(pod.volumes.find((v) => v.name === config.name)?.["configMap"], {
      name: "edgellm-config",
    });
  }
  assert.deepEqual(daemonSet.spec.selector.matchLabels, daemonSet.spec.template.metadata.labels);
});

Deno.test("the DaemonSet limits resources and sizes threads to its CPU limit", async () => {
  const { configMap, pod, serve } = await load();
  const config = parseConfig(configMap.data["edgellm.toml"] ?? "", { env: {} });
  for (const container of [...pod.initContainers, ...pod.containers]) {
    if (container.args?.[0] === undefined) continue; // the chown helper runs no edgellm
    assert.ok(container.resources?.limits["memory"], `${container.name}: no memory limit`);
    assert.ok(container.resources?.limits["cpu"], `${container.name}: no cpu limit`);
  }
  for (const runtime of Object.values(config.runtimes)) {
    assert.equal(String(runtime.threads), serve.resources?.limits["cpu"]);
  }
  assert.ok(pod.terminationGracePeriodSeconds >= 15);
});

Deno.test("the DaemonSet runs one image of this version in every container", async () => {
  const { pod } = await load();
  const images = new Set([...pod.initContainers, ...pod.containers].map((c) => c.image));
  assert.equal(images.size, 1);
  assert.match([...images][0]!, new RegExp(`:${VERSION.replaceAll(".", "\\.")}$`));
});
