import denoJson from "../deno.json" with { type: "json" };

/** The version of edgellm (from `deno.json`). */
export const VERSION: string = denoJson.version;
