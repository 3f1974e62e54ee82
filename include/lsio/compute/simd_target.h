#pragma once

// The SIMD instruction set the compute kernels picked for this CPU at run time ("AVX3" for
// AVX-512, "AVX2", "SSE4", "SSSE3", or "SCALAR" on x86), for `lsio info`, logs and benchmarks.
// The kernels are compiled for every one of them (Highway's dynamic dispatch); the choice is
// made once, on first use.

namespace lsio::compute {

const char* SimdTargetName();

}  // namespace lsio::compute
