// Runs once before the suite: the addon must load (npm test builds it first via scripts/ensure.mjs),
// and the generated tiny models must exist.
import { loadAddon } from "../src/addon/loader.js";
import { tinyModels } from "./fixtures/models.js";

export default async function setup(): Promise<void> {
  loadAddon("cpu");
  await tinyModels();
}
