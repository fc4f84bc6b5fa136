// Signs plugin.mjs with Haechi's own signPluginManifest (Haechi 1.7.0,
// raeseoklee/haechi at c5c38a9) and the test-only key in ../test-signer.key,
// writing plugin.signed.json. Run once; the output is committed:
//   node tests/vectors/haechi-js/make.mjs /path/to/haechi
import { readFileSync, writeFileSync } from "node:fs";
import { createPrivateKey } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const haechi = process.argv[2];
if (!haechi) {
  throw new Error("usage: node make.mjs <haechi checkout>");
}
const { signPluginManifest } = await import(pathToFileURL(join(haechi, "packages/plugin/index.mjs")).href);
const key = createPrivateKey(readFileSync(join(here, "../test-signer.key")));
const envelope = signPluginManifest(
  {
    pluginId: "haechi-js",
    kind: "authProvider",
    version: "1.0.0",
    capabilities: { readsCredentials: true },
    // What a Haechi 1.x plugin declares; ward checks it against the Haechi
    // contract it implements for JavaScript plugins.
    coreVersionRange: ">=1.0.0 <2.0.0",
    entryBytes: readFileSync(join(here, "plugin.mjs")),
    notBefore: 1763856000000,
    notAfter: null
  },
  key,
  "ward-test-signer"
);
writeFileSync(join(here, "plugin.signed.json"), JSON.stringify(envelope, null, 2) + "\n");
