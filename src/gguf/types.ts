/**
 * Shared GGUF vocabulary: value kinds for metadata, tensor element types and their sizes.
 * The numbers are the on-disk enums of GGUF v3 (`gguf_type`, `ggml_type`); they never change.
 */

/** GGUF file magic, "GGUF" read as little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** The only GGUF version this module writes and reads. */
export const GGUF_VERSION = 3;
/** Alignment used when a file has no `general.alignment`. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value kinds with their on-disk ids. */
export const GGUF_VALUE_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

/** Scalar metadata kinds (everything an array may hold). */
export type GGUFScalarType = Exclude<keyof typeof GGUF_VALUE_TYPE, "array">;
/** Scalar kinds that carry a JS number. */
export type GGUFNumberType = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";
/** Scalar kinds that carry a bigint (64-bit integers lose precision as numbers). */
export type GGUFBigIntType = "u64" | "i64";

/** JS representation of one scalar of a given kind. */
export type GGUFScalarJs<T extends GGUFScalarType> = T extends GGUFNumberType
  ? number
  : T extends GGUFBigIntType
    ? bigint
    : T extends "bool"
      ? boolean
      : string;

/** One metadata value as written and as read back. */
export type GGUFValue =
  | { type: GGUFNumberType; value: number }
  | { type: GGUFBigIntType; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: GGUFNumberType; value: number[] }
  | { type: "array"; itemType: GGUFBigIntType; value: bigint[] }
  | { type: "array"; itemType: "bool"; value: boolean[] }
  | { type: "array"; itemType: "string"; value: string[] };

/** Ordered metadata: GGUF keeps KV order, and converters write `general.architecture` first. */
export type GGUFMetadata = ReadonlyArray<readonly [string, GGUFValue]>;

/** Constructors for {@link GGUFValue}, so call sites read like the converter's `add_*` calls. */
export const kv = {
  u8: (value: number): GGUFValue => ({ type: "u8", value }),
  i8: (value: number): GGUFValue => ({ type: "i8", value }),
  u16: (value: number): GGUFValue => ({ type: "u16", value }),
  i16: (value: number): GGUFValue => ({ type: "i16", value }),
  u32: (value: number): GGUFValue => ({ type: "u32", value }),
  i32: (value: number): GGUFValue => ({ type: "i32", value }),
  u64: (value: bigint | number): GGUFValue => ({ type: "u64", value: BigInt(value) }),
  i64: (value: bigint | number): GGUFValue => ({ type: "i64", value: BigInt(value) }),
  f32: (value: number): GGUFValue => ({ type: "f32", value }),
  f64: (value: number): GGUFValue => ({ type: "f64", value }),
  bool: (value: boolean): GGUFValue => ({ type: "bool", value }),
  str: (value: string): GGUFValue => ({ type: "string", value }),
  /** An array of one scalar kind (GGUF arrays are homogeneous). */
  arr<T extends GGUFScalarType>(itemType: T, value: ReadonlyArray<GGUFScalarJs<T>>): GGUFValue {
    return { type: "array", itemType, value: [...value] } as GGUFValue;
  },
} as const;

/** Tensor element types this module can encode (ids are `ggml_type`). */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q8_0: 8,
} as const;

/** A tensor element type id from {@link GGML_TYPE}. */
export type GGMLType = (typeof GGML_TYPE)[keyof typeof GGML_TYPE];

/** Elements per block and bytes per block for each supported type. */
export const GGML_TYPE_TRAITS: Readonly<Record<GGMLType, { name: string; blockSize: number; typeSize: number }>> = {
  [GGML_TYPE.F32]: { name: "f32", blockSize: 1, typeSize: 4 },
  [GGML_TYPE.F16]: { name: "f16", blockSize: 1, typeSize: 2 },
  [GGML_TYPE.Q8_0]: { name: "q8_0", blockSize: 32, typeSize: 34 },
};

/** Rounds `n` up to a multiple of `align` (a power of two in practice). */
export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/** Number of elements of a tensor of shape `shape` (ggml order, ne[0] first). */
export function tensorElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Bytes a tensor occupies in the data section (before padding), as `ggml_nbytes` computes it
 * for a contiguous tensor. Throws when ne[0] is not a multiple of the type's block size, which
 * is the check gguf.cpp applies on load.
 */
export function tensorBytes(shape: readonly number[], type: GGMLType): number {
  const traits = GGML_TYPE_TRAITS[type];
  if (traits === undefined) throw new Error(`unsupported ggml type ${String(type)}`);
  const ne0 = shape[0] ?? 1;
  if (ne0 % traits.blockSize !== 0) {
    throw new Error(`ne[0] = ${ne0} is not a multiple of the ${traits.name} block size ${traits.blockSize}`);
  }
  return (tensorElements(shape) / traits.blockSize) * traits.typeSize;
}
