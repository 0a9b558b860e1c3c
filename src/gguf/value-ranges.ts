/**
 * Whether metadata values fit their GGUF kinds. Buffer's writers throw a bare RangeError for a
 * u32 of 2^40 (and silently truncate a fraction), which says nothing of the key; this names it.
 */
import type { GGUFMetadata, GGUFNumberType, GGUFScalarType, GGUFValue } from "./types.js";

const INT_RANGE: Readonly<Partial<Record<GGUFNumberType, readonly [number, number]>>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffff_ffff],
  i32: [-0x8000_0000, 0x7fff_ffff],
};
const BIG_RANGE = { u64: [0n, 2n ** 64n - 1n], i64: [-(2n ** 63n), 2n ** 63n - 1n] } as const;

/** Why `v` cannot be stored as `type`, or undefined when it can. */
function scalarProblem(type: GGUFScalarType, v: unknown): string | undefined {
  if (type === "u64" || type === "i64") {
    const [lo, hi] = BIG_RANGE[type];
    return typeof v === "bigint" && v >= lo && v <= hi ? undefined : `${String(v)} is out of the ${type} range ${lo}..${hi}`;
  }
  const range = INT_RANGE[type as GGUFNumberType];
  if (range !== undefined) {
    return Number.isInteger(v) && (v as number) >= range[0] && (v as number) <= range[1] ? undefined : `${String(v)} is not a ${type} (an integer ${range[0]}..${range[1]})`;
  }
  if (type === "f32" || type === "f64") return typeof v === "number" ? undefined : `${String(v)} is not a number`;
  if (type === "bool") return typeof v === "boolean" ? undefined : `${String(v)} is not a bool`;
  return typeof v === "string" ? undefined : `${String(v)} is not a string`;
}

/** Why `value` cannot be written under `key` ("'key': …"), or undefined when it can. */
export function metadataValueProblem(key: string, value: GGUFValue): string | undefined {
  if (value.type !== "array") {
    const p = scalarProblem(value.type, value.value);
    return p === undefined ? undefined : `metadata key '${key}': ${p}`;
  }
  const items: readonly unknown[] = value.value;
  for (let i = 0; i < items.length; i++) {
    const p = scalarProblem(value.itemType, items[i]);
    if (p !== undefined) return `metadata key '${key}' item ${i}: ${p}`;
  }
  return undefined;
}

/** The first metadata value that does not fit its kind, described, or undefined. */
export function metadataProblem(metadata: GGUFMetadata): string | undefined {
  for (const [k, v] of metadata) {
    const p = metadataValueProblem(k, v);
    if (p !== undefined) return p;
  }
  return undefined;
}
