// Extracts a bundle in its own process: `deno run -A extract_bundle_main.ts <source> <home>`;
// prints the status. Used to start two first runs at once.
import { extractBundle } from "../../src/natives/mod.ts";

const [source, home] = Deno.args;
const result = await extractBundle(source!, home!);
console.log(result.status);
