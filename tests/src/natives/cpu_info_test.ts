import assert from "node:assert/strict";
import { parseCpuInfo, readCpuInfo } from "../../../src/natives/mod.ts";

Deno.test("parseCpuInfo reads count, model and flags of an x86 cpuinfo", () => {
  const cpu = (n: number) =>
    `processor\t: ${n}\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\n` +
    `flags\t\t: fpu sse2 avx2 avx512f\n\n`;
  assert.deepEqual(parseCpuInfo(cpu(0) + cpu(1)), {
    count: 2,
    model: "AMD EPYC 9B14",
    flags: ["fpu", "sse2", "avx2", "avx512f"],
  });
});

Deno.test("parseCpuInfo reads the Features of an ARM cpuinfo", () => {
  const cpu = (n: number) =>
    `processor\t: ${n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd asimddp sve\n` +
    `CPU implementer\t: 0x41\n\n`;
  assert.deepEqual(parseCpuInfo(cpu(0) + cpu(1) + cpu(2) + cpu(3)), {
    count: 4,
    model: null,
    flags: ["fp", "asimd", "asimddp", "sve"],
  });
});

Deno.test("readCpuInfo reports at least one CPU of this machine", async () => {
  const info = await readCpuInfo();
  assert.ok(info.count >= 1);
  assert.ok(info.flags.length > 0);
});
