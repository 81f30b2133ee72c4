/**
 * Environment variables edgellm reads itself. Reading only named variables (never the whole
 * environment) keeps `--allow-env` a short allow-list.
 */
export const ENV_NAMES = [
  "EDGELLM_CONFIG",
  "EDGELLM_HOME",
  "EDGELLM_TOKEN",
  "HF_ENDPOINT",
  "HF_HUB_OFFLINE",
  "HF_TOKEN",
  "HOME",
  "XDG_DATA_HOME",
  "NO_COLOR",
] as const;

/** Reads the named variables that are set, e.g. `readEnv([...ENV_NAMES, "MY_TOKEN"])`. */
export function readEnv(names: readonly string[] = ENV_NAMES): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
