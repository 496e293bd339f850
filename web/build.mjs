// Bundles the dashboard (src/main.ts and the CSS it imports) into dist/,
// or into the folder given as the first argument (the Go test rebuilds
// into a temporary folder and compares it with the committed dist/).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(process.argv[2] ?? path.join(here, "dist"));

await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  entryNames: "app",
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  legalComments: "eof",
  charset: "utf8",
  outdir,
  logLevel: "warning",
});
