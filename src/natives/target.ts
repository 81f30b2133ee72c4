/** The Linux targets that edgellm ships llama.cpp bundles for. */
export const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] as const;

/** A target triple edgellm has a llama.cpp bundle for (Deno's spelling, as in `Deno.build.target`). */
export type Target = typeof TARGETS[number];

/** Tells whether `value` names a supported {@linkcode Target}. */
export function isTarget(value: string): value is Target {
  return (TARGETS as readonly string[]).includes(value);
}

/**
 * Returns the target of the machine this process runs on.
 *
 * @throws {RangeError} when the host is not one of {@linkcode TARGETS}.
 */
export function hostTarget(): Target {
  const target = Deno.build.target;
  if (!isTarget(target)) {
    throw new RangeError(
      `Cannot detect the host target: "${target}" is not supported; supported: ${
        TARGETS.join(", ")
      }`,
    );
  }
  return target;
}

/** The CPU architecture part of a target, e.g. `"aarch64"`. */
export function targetArch(target: Target): "x86_64" | "aarch64" {
  return target.startsWith("aarch64") ? "aarch64" : "x86_64";
}
