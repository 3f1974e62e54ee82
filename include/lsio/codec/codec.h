#pragma once

// Codecs: the three kinds of the Zarr v3 model (array->array, array->bytes, bytes->bytes),
// composed into a CodecChain that is prepared once per chunk shape (as TensorStore's
// driver/zarr3/codec/codec.h does). Zarr v2's filters + compressor + order map onto the same
// chain.
//
// This is the umbrella header; the pieces live in:
//   array_spec.h   ArraySpec (dtype + shape of a chunk at one stage)
//   codec_kinds.h  ArrayToArrayCodec, ArrayToBytesCodec, BytesToBytesCodec
//   registry.h     CodecRegistry, RegisterBuiltinCodecs
//   chain.h        CodecChain (FromZarrV3, FromZarrV2, Decode, Encode)

#include "lsio/codec/array_spec.h"
#include "lsio/codec/chain.h"
#include "lsio/codec/codec_kinds.h"
#include "lsio/codec/registry.h"
