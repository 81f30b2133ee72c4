import assert from "node:assert/strict";
import { hostTarget, isTarget, targetArch } from "../../../src/natives/mod.ts";

Deno.test("hostTarget returns Deno's target on a supported host", () => {
  assert.equal(hostTarget(), Deno.build.target);
});

Deno.test("isTarget accepts only the shipped targets", () => {
  assert.ok(isTarget("aarch64-unknown-linux-gnu"));
  assert.ok(!isTarget("x86_64-apple-darwin"));
});

Deno.test("targetArch returns the architecture part of a target", () => {
  assert.equal(targetArch("aarch64-unknown-linux-gnu"), "aarch64");
  assert.equal(targetArch("x86_64-unknown-linux-gnu"), "x86_64");
});
