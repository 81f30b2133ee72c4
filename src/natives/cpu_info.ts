/** The CPU facts `doctor` reports. */
export interface CpuInfo {
  /** Logical CPUs. */
  count: number;
  /** `model name` (x86) when the kernel reports one. */
  model: string | null;
  /** Feature flags: `flags` on x86 (e.g. `avx2`), `Features` on ARM (e.g. `asimddp`). */
  flags: string[];
}

/** Parses the text of `/proc/cpuinfo` (x86 or ARM layout); flags come from the first CPU. */
export function parseCpuInfo(text: string): CpuInfo {
  let count = 0;
  let model: string | null = null;
  let flags: string[] | null = null;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "processor") count++;
    else if (key === "model name") model ??= value;
    else if (key === "flags" || key === "Features") flags ??= value.split(/\s+/).filter(Boolean);
  }
  return { count, model, flags: flags ?? [] };
}

/** Reads `/proc/cpuinfo`; the count falls back to `navigator.hardwareConcurrency`. */
export async function readCpuInfo(): Promise<CpuInfo> {
  const info = parseCpuInfo(await Deno.readTextFile("/proc/cpuinfo"));
  return info.count > 0 ? info : { ...info, count: navigator.hardwareConcurrency };
}
