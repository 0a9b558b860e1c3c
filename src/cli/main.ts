#!/usr/bin/env node
/**
 * videoscore2 — command line. `videoscore2 help` prints the usage (src/cli/args.ts), including the
 * exit codes: 0 ok, 1 fatal, 2 usage, 3 some inputs failed, 130 interrupted.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VideoScoreError } from "../addon/errors.js";
import { packageRoot } from "../addon/loader.js";
import { closest, commandUsage, EXIT, parseCommandLine, USAGE, UsageError } from "./args.js";
import { evalCommand } from "./commands/eval.js";
import { OutputWriteError } from "./output-files.js";
import { displayLines, displayMessage, displayText } from "./display.js";
import { infoCommand } from "./commands/info.js";
import { runConvert } from "./convert.js";
import { sampleCommand } from "./commands/sample.js";
import { scoreCommand } from "./commands/score.js";
import { workerCommand } from "./commands/worker.js";

/**
 * Ctrl-C once: stop cleanly — the running generation stops within a token, queued videos are
 * skipped, what finished is written, exit 130. Ctrl-C twice: exit 130 at once.
 */
function interruptSignal(): AbortSignal {
  const ac = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      process.stderr.write(`\n${sig}: stopping after writing the finished results (again to quit at once)\n`);
      ac.abort(new VideoScoreError("ERR_ABORTED", `Interrupted by ${sig}`));
    } else process.exit(EXIT.interrupted);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return ac.signal;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    (cmd === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
    return cmd === undefined ? EXIT.usage : EXIT.ok;
  }
  if (cmd === "--version" || cmd === "-v" || cmd === "version") {
    process.stdout.write(`videoscore2-native ${packageVersion()}\n`);
    return EXIT.ok;
  }
  // convert parses its own options and handles SIGINT itself (src/cli/convert.ts).
  if (cmd === "convert") return runConvert(rest);
  const { values, positionals } = parseCommandLine(rest);
  if (values.help) {
    process.stdout.write(`${commandUsage(cmd) ?? USAGE}\n`);
    return EXIT.ok;
  }
  // The worker handles its own signals: it finishes the running job instead of aborting it.
  if (cmd === "worker") return workerCommand(values, positionals, { stderr: process.stderr });
  const signal = interruptSignal();
  const ctx = { signal, stderr: process.stderr };
  switch (cmd) {
    case "score":
    case "demo":
      return scoreCommand(cmd, values, positionals, ctx);
    case "eval":
      return evalCommand(values, positionals, ctx);
    case "sample":
      return sampleCommand(values, positionals, ctx);
    case "info":
      if (positionals.length) throw new UsageError("info takes no arguments (use --model / --mmproj)");
      return infoCommand(values);
    default:
      const near = closest(cmd, ["score", "eval", "sample", "info", "convert", "demo", "worker", "help"]);
      throw new UsageError(`unknown command "${cmd}"${near ? `; did you mean "${near}"?` : ""}`);
  }
}

// `videoscore2 … | head`: a closed pipe ends the command quietly.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(EXIT.ok);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Stray handles (a native thread pool, a timer) must not keep a finished command alive.
    setImmediate(() => process.exit(code));
  },
  (e: unknown) => {
    // Messages quote file names: shown escaped (src/cli/display.ts).
    if (e instanceof UsageError) {
      process.stderr.write(`videoscore2: ${displayMessage(e.message)}\n(videoscore2 help for usage)\n`);
      process.exit(EXIT.usage);
    }
    if (e instanceof OutputWriteError) {
      process.stderr.write(`videoscore2: ${displayText(e.message)}\n`);
      process.exit(EXIT.fatal);
    }
    if (e instanceof VideoScoreError) {
      process.stderr.write(`videoscore2: ${e.code}: ${displayMessage(e.message)}\n`);
      process.exit(e.code === "ERR_ABORTED" ? EXIT.interrupted : e.code === "ERR_INVALID_OPTION" ? EXIT.usage : EXIT.fatal);
    }
    process.stderr.write(`videoscore2: ${displayLines(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
    process.exit(EXIT.fatal);
  },
);
