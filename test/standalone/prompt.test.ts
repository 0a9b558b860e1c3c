import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { codeOf } from "../fixtures/errors.js";
import {
  DEFAULT_PROMPT_TEMPLATE,
  PROMPT_TEMPLATES,
  chatLayout,
  chatText,
  renderUserPrompt,
  validatePromptTemplate,
} from "../../src/scorer/prompt.js";

// /work/shared sits beside the repository (one level above /work/main).
const reference = JSON.parse(
  readFileSync(new URL("../../../shared/reference/prompts.json", import.meta.url), "utf8"),
) as { inference: string; inference_model_card: string; benchmark: string };

/** Python's Template.substitute for a template whose only `$` is `$t2v_prompt`. */
const substitute = (template: string, prompt: string): string => template.split("$t2v_prompt").join(prompt);


describe("built-in templates", () => {
  it("are the reference strings, byte for byte", () => {
    expect(PROMPT_TEMPLATES.inference).toBe(reference.inference_model_card);
    expect(PROMPT_TEMPLATES["inference-indented"]).toBe(reference.inference);
    expect(PROMPT_TEMPLATES.benchmark).toBe(reference.benchmark);
    expect(PROMPT_TEMPLATES["inference-indented"]).toHaveLength(470);
    expect(PROMPT_TEMPLATES.benchmark).toHaveLength(1598);
    expect(PROMPT_TEMPLATES.inference).toContain("(1) visual quality \u2013 clarity");
  });

  it("default is the model-card text", () => {
    expect(DEFAULT_PROMPT_TEMPLATE).toBe("inference");
  });

  it.each([
    ["inference", "inference_model_card"],
    ["inference-indented", "inference"],
    ["benchmark", "benchmark"],
  ] as const)("%s renders like string.Template.substitute", (ours, key) => {
    for (const prompt of ["Morning fishing on the river", "", "costs $5 and ${t2v_prompt} $$ stays", "emoji 🐸\nnewline"]) {
      expect(renderUserPrompt(ours, prompt)).toBe(substitute(reference[key], prompt));
    }
  });

  it("benchmark puts the prompt before its period", () => {
    expect(renderUserPrompt("benchmark", "A cat")).toContain("its text prompt: \nA cat.\n\n");
  });
});

describe("custom templates", () => {
  it("supports $t2v_prompt, ${t2v_prompt} and $$", () => {
    expect(renderUserPrompt({ custom: "Rate: $t2v_prompt" }, "a dog")).toBe("Rate: a dog");
    expect(renderUserPrompt({ custom: "[${t2v_prompt}]s cost $$3" }, "x")).toBe("[x]s cost $3");
    expect(renderUserPrompt({ custom: "$t2v_prompt and again $t2v_prompt." }, "p")).toBe("p and again p.");
  });

  it.each([
    ["no placeholder", "Rate this video"],
    ["only an escaped dollar", "Costs $$t2v_prompt"],
    ["unknown placeholder", "Rate $prompt"],
    ["longer name (greedy like Python)", "Rate $t2v_prompts"],
    ["case differs", "Rate $T2V_PROMPT"],
    ["dangling $", "Rate $t2v_prompt for $"],
    ["$ before a digit", "$t2v_prompt costs $5"],
    ["unclosed brace", "${t2v_prompt"],
    ["spaces in braces", "${ t2v_prompt }"],
  ])("rejects %s with ERR_INVALID_OPTION", (_name, custom) => {
    expect(codeOf(() => validatePromptTemplate({ custom }))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => renderUserPrompt({ custom }, "x"))).toBe("ERR_INVALID_OPTION");
  });

  it("rejects unknown names and bad shapes", () => {
    expect(codeOf(() => validatePromptTemplate("model-card"))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => validatePromptTemplate({ custom: 5 }))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => validatePromptTemplate(null))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => renderUserPrompt("inference", 5 as unknown as string))).toBe("ERR_INVALID_OPTION");
  });
});

describe("chatLayout", () => {
  it("wraps the user text as the Qwen2.5-VL template does for content [video, text]", () => {
    const user = renderUserPrompt("inference", "A frog fountain");
    const layout = chatLayout(user);
    expect(layout.beforeVideo).toBe(
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>",
    );
    expect(layout.afterVideo).toBe("<|vision_end|>");
    expect(layout.userText).toBe(user);
    expect(layout.afterText).toBe("<|im_end|>\n<|im_start|>assistant\n");
    // With <|video_pad|> in the middle this is exactly apply_chat_template's output.
    expect(chatText(layout)).toBe(
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>" +
        user +
        "<|im_end|>\n<|im_start|>assistant\n",
    );
  });
});
