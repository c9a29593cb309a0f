// LOWBIT_HD marks small inline functions shared by host code and CUDA kernels
// (conversion rules, Philox, elementwise formulas), so both backends compute the same bits.
#pragma once

#if defined(__CUDACC__)
#define LOWBIT_HD __host__ __device__ inline
#else
#define LOWBIT_HD inline
#endif
