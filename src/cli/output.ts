const encoder = new TextEncoder();

/** Writes text to stdout in full (stdout carries a command's result; logs go to stderr). */
export async function writeStdout(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}

/** Prints a value as one line of JSON on stdout, for `--json`. */
export function printJson(value: unknown): Promise<void> {
  return writeStdout(JSON.stringify(value) + "\n");
}
