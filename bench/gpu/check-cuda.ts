/**
 * Loads the CUDA build the way VideoScorer.load({ gpu: "cuda" }) would and prints what it reports
 * (run.sh's build-cuda step keeps it as results/versions-cuda.json); exits 1 when no CUDA build loads.
 */
import { versions } from "../../src/index.js";

const v = versions("cuda");
console.log(JSON.stringify(v));
if (!v.cuda) process.exit(1);
