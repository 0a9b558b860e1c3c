/**
 * Whether a call fits the model's context, checked before any frame is decoded (decoding 5000
 * frames to learn that costs gigabytes). The engine checks again with the forced answer counted.
 */
import { VideoScoreError } from "../addon/errors.js";
import type { NativeModel, NativeModelInfo } from "../addon/interface.js";
import type { FramePlan } from "../video/frame-plan.js";
import type { ChatLayout } from "./prompt.js";

/**
 * Refuses, without tokenizing it, a prompt that cannot fit: no token of the model covers more than
 * `maxTokenBytes` bytes of text, so a prompt of more than contextSize × maxTokenBytes bytes has more
 * tokens than the context holds. Tokenizing 20 MB would take seconds of a thread for nothing.
 */
export function checkPromptBytes(info: Pick<NativeModelInfo, "contextSize" | "maxTokenBytes">, layout: Pick<ChatLayout, "userText">): void {
  const bytes = Buffer.byteLength(layout.userText, "utf8");
  const most = info.contextSize * info.maxTokenBytes;
  if (bytes > most)
    throw new VideoScoreError(
      "ERR_CONTEXT_FULL",
      `The prompt is ${bytes} bytes, at least ${Math.ceil(bytes / info.maxTokenBytes)} tokens (no token of this model is longer than ${info.maxTokenBytes} bytes), ` +
        `more than the context of ${info.contextSize}; shorten it (at most ${most} bytes can fit) or load the scorer with a larger contextSize`,
    );
}

/** Refuses a plan whose tokens cannot fit the context. Long prompts are tokenized off the JS thread. */
export async function checkFits(model: NativeModel, layout: ChatLayout, plan: FramePlan, maxTokens: number, samples: number): Promise<void> {
  const info = model.info;
  checkPromptBytes(info, layout);
  const prompt = (await model.prepare({ ...layout, nframes: plan.nframes, width: plan.width, height: plan.height })).tokens.length;
  if (info.streams > 1) {
    if (samples > info.streams)
      throw new VideoScoreError(
        "ERR_INVALID_OPTION",
        `With parallel: ${info.streams} every chain of thought has a KV stream of its own, so a call takes at most ${info.streams} samples, not ${samples}; load the scorer with samplesPerCall >= samples, or parallel: 1`,
      );
    if (prompt + maxTokens > info.streamCells)
      throw new VideoScoreError(
        "ERR_CONTEXT_FULL",
        `This video needs ${prompt} prompt tokens (${plan.nframes} frames of ${plan.width}x${plan.height}) + ${maxTokens} to generate, more than the ${info.streamCells} cells of a KV stream (contextSize / parallel ${info.streams}); ` +
          `load the scorer with a larger contextSize, or lower fps/nframes/maxPixels/maxTokens`,
      );
    return;
  }
  const n = info.contextSize;
  // The prompt's memory is shared by the samples; each adds its own generated tokens.
  if (prompt + samples * maxTokens > n)
    throw new VideoScoreError(
      "ERR_CONTEXT_FULL",
      `This video needs ${prompt} prompt tokens (${plan.nframes} frames of ${plan.width}x${plan.height}) + ${samples > 1 ? `${samples} samples x ` : ""}${maxTokens} to generate, more than the context of ${n}; ` +
        `load the scorer with a larger contextSize, or lower fps/nframes/maxPixels/maxTokens${samples > 1 ? "/samples" : ""}`,
    );
}
