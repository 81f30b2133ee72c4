/**
 * A real llama-server from the checkout's bundle for tests, on 127.0.0.1 port 0.
 *
 * @module
 */
import { bundledTool } from "./natives.ts";
import { waitFor } from "./wait_for.ts";

/** A running llama-server; `close()` kills it and waits until it is gone. */
export interface LlamaServer extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:41234/`. */
  url: URL;
  /** The process. */
  child: Deno.ChildProcess;
  /** Everything it wrote, for diagnosing a failed test. */
  output(): string;
  /** Kills it and waits for its exit. */
  close(): Promise<void>;
}

/** Options for {@linkcode startLlamaServer}. */
export interface StartLlamaServerOptions {
  /** `-c`: total context, shared by the slots. @default {2048} */
  ctxSize?: number;
  /** `-np`: slots. @default {2} */
  parallel?: number;
  /** Extra flags. @default {[]} */
  args?: string[];
}

/**
 * Starts llama-server from the checkout's bundle on 127.0.0.1 port 0 with `--metrics` and
 * `--slots`, and resolves when it reports the port it listens on and answers `/health`.
 */
export async function startLlamaServer(
  model: string,
  options: StartLlamaServerOptions = {},
): Promise<LlamaServer> {
  const tool = await bundledTool("llama-server");
  const child = new Deno.Command(tool.command, {
    args: [
      ...tool.args,
      "-m",
      model,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "-c",
      String(options.ctxSize ?? 2048),
      "-np",
      String(options.parallel ?? 2),
      "-t",
      "1",
      "--metrics",
      "--slots",
      ...(options.args ?? []),
    ],
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const { promise: listening, resolve, reject } = Promise.withResolvers<URL>();
  async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output += text;
      const port = output.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1];
      if (port) resolve(new URL(`http://127.0.0.1:${port}/`));
    }
  }
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  child.status.then((s) => reject(new Error(`llama-server exited with ${s.code}:\n${output}`)));
  async function close(): Promise<void> {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await drained;
  }
  let url: URL;
  try {
    url = await listening;
    await waitFor("llama-server to answer /health", async () => {
      const response = await fetch(new URL("/health", url));
      await response.body?.cancel();
      return response.status === 200;
    }, { timeoutMs: 30_000 });
  } catch (error) {
    await close();
    throw error;
  }
  return { url, child, output: () => output, close, [Symbol.asyncDispose]: close };
}
