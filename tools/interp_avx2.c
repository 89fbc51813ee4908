/* The float kernels of runtime/f32.h once more, compiled with -mavx2
   (CMakeLists.txt, x86-64 only), for the interpreter to call where the
   CPU has AVX2 (interp.c): vectors of 8 floats and tiles of 8 pixels
   instead of SSE2's 4 and 4, about twice the speed of calibration.  The
   same bits: every output channel is a lane summed in the same order,
   and neither -mavx2 nor this file allows an fma (no -mfma; gcc in ISO C
   mode and clang under the pragma below do not contract). */
#if defined(Q8C_INTERP_AVX2) && defined(__AVX2__)
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#define q8k_conv2d_f32_blk q8k_conv2d_f32_blk_avx2
#define q8k_dwconv_f32 q8k_dwconv_f32_avx2
#define q8k_dense_f32_blk q8k_dense_f32_blk_avx2
#include "runtime/f32.h"
#else
typedef int q8c_no_interp_avx2; /* ISO C: a translation unit declares something */
#endif
