/**
 * The whole environment of a child: nothing is inherited, so neither `HF_TOKEN` nor the API
 * token nor any `LD_*` variable (which a scoped `--allow-run` refuses) can reach one.
 * `HOME` is the child's own working folder.
 */
export function childEnv(home: string): Record<string, string> {
  return { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: home, LANG: "C.UTF-8" };
}
