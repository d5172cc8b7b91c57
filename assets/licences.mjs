// Copy the licence file of every npm package that esbuild put into a bundle (read from its --metafile) beside
// the bundle, as licences/<package>.txt, and list package, version and licence in licences/index.tsv.
// Usage: node assets/licences.mjs META.json [MORE-META.json ...] OUTDIR
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const metaFiles = process.argv.slice(2, -1);
const outDir = process.argv[process.argv.length - 1];
const packages = new Set();
for (const metaFile of metaFiles) {
  const meta = JSON.parse(readFileSync(metaFile, "utf8"));
  for (const input of Object.keys(meta.inputs)) {
    const match = input.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
    if (match) { packages.add(match[1]); }
  }
}
const licences = join(outDir, "licences");
mkdirSync(licences, { recursive: true });
const rows = ["package\tversion\tlicence"];
for (const name of [...packages].sort()) {
  const dir = join("node_modules", name);
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  rows.push(`${name}\t${manifest.version}\t${manifest.license}`);
  const file = readdirSync(dir).find((entry) => /^(licen[cs]e|copying)/i.test(entry));
  const target = join(licences, name.replace("/", "__") + ".txt");
  if (file) { copyFileSync(join(dir, file), target); }
  else { writeFileSync(target, `${name} ${manifest.version}: licence ${manifest.license} (package.json; no licence file shipped)\n`); }
}
writeFileSync(join(licences, "index.tsv"), rows.join("\n") + "\n");
