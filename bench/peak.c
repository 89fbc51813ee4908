/* Peak int8 throughput of one core: AVX-512 VNNI vpdpbusd (zmm and ymm)
   and AVX2 vpmaddubsw + vpmaddwd / vpmaddwd alone.  Independent
   accumulator chains so that throughput, not latency, is measured.
   Each figure is the best of BURSTS short timed bursts, so that a busy
   machine (other processes preempting this one) does not hide the peak.
   Prints "NAME GOPS" lines (one op = one multiply or one add). */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

#define ITERS 200000L
#define BURSTS 60
static volatile int sink;

#define CHAINS 12

__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline))
static double vnni_zmm(void)
{
	__m512i a[CHAINS], x = _mm512_set1_epi32(0x01020304), w = _mm512_set1_epi32(0x05060708);
	for (int i = 0; i < CHAINS; i++)
		a[i] = _mm512_set1_epi32(i);
	double t = 1e9;
	for (int burst = 0; burst < BURSTS; burst++) {
		double t0 = now();
		for (long n = 0; n < ITERS; n++) {
			_Pragma("GCC unroll 32")
			for (int i = 0; i < CHAINS; i++)
				a[i] = _mm512_dpbusd_epi32(a[i], x, w);
			__asm__ volatile("" : "+v"(x), "+v"(w));
		}
		t0 = now() - t0;
		t = t0 < t ? t0 : t;
	}
	for (int i = 1; i < CHAINS; i++)
		a[0] = _mm512_add_epi32(a[0], a[i]);
	sink = _mm512_reduce_add_epi32(a[0]);
	return 2.0 * 64 * CHAINS * ITERS / t * 1e-9;
}

__attribute__((target("avx512f,avx512vl,avx512vnni"), noinline))
static double vnni_ymm(void)
{
	__m256i a[CHAINS], x = _mm256_set1_epi32(0x01020304), w = _mm256_set1_epi32(0x05060708);
	for (int i = 0; i < CHAINS; i++)
		a[i] = _mm256_set1_epi32(i);
	double t = 1e9;
	for (int burst = 0; burst < BURSTS; burst++) {
		double t0 = now();
		for (long n = 0; n < ITERS; n++) {
			_Pragma("GCC unroll 32")
			for (int i = 0; i < CHAINS; i++)
				a[i] = _mm256_dpbusd_epi32(a[i], x, w);
			__asm__ volatile("" : "+v"(x), "+v"(w));
		}
		t0 = now() - t0;
		t = t0 < t ? t0 : t;
	}
	for (int i = 1; i < CHAINS; i++)
		a[0] = _mm256_add_epi32(a[0], a[i]);
	sink = _mm256_extract_epi32(a[0], 0);
	return 2.0 * 32 * CHAINS * ITERS / t * 1e-9;
}

/* vpmaddubsw (32 u8 x s8 products summed in pairs) + vpmaddwd with ones
   (pairs to int32) + vpaddd: 32 multiply-adds */
__attribute__((target("avx2"), noinline))
static double avx2_ubsw(void)
{
	__m256i a[CHAINS], x = _mm256_set1_epi8(3), w = _mm256_set1_epi8(5), one = _mm256_set1_epi16(1);
	for (int i = 0; i < CHAINS; i++)
		a[i] = _mm256_set1_epi32(i);
	double t = 1e9;
	for (int burst = 0; burst < BURSTS; burst++) {
		double t0 = now();
		for (long n = 0; n < ITERS; n++) {
			_Pragma("GCC unroll 32")
			for (int i = 0; i < CHAINS; i++)
				a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), one));
			__asm__ volatile("" : "+v"(x), "+v"(w));
		}
		t0 = now() - t0;
		t = t0 < t ? t0 : t;
	}
	for (int i = 1; i < CHAINS; i++)
		a[0] = _mm256_add_epi32(a[0], a[i]);
	sink = _mm256_extract_epi32(a[0], 0);
	return 2.0 * 32 * CHAINS * ITERS / t * 1e-9;
}

/* vpmaddwd on int16 + vpaddd: 16 multiply-adds, exact (what avx2.c uses) */
__attribute__((target("avx2"), noinline))
static double avx2_wd(void)
{
	__m256i a[CHAINS], x = _mm256_set1_epi16(3), w = _mm256_set1_epi16(5);
	for (int i = 0; i < CHAINS; i++)
		a[i] = _mm256_set1_epi32(i);
	double t = 1e9;
	for (int burst = 0; burst < BURSTS; burst++) {
		double t0 = now();
		for (long n = 0; n < ITERS; n++) {
			_Pragma("GCC unroll 32")
			for (int i = 0; i < CHAINS; i++)
				a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(x, w));
			__asm__ volatile("" : "+v"(x), "+v"(w));
		}
		t0 = now() - t0;
		t = t0 < t ? t0 : t;
	}
	for (int i = 1; i < CHAINS; i++)
		a[0] = _mm256_add_epi32(a[0], a[i]);
	sink = _mm256_extract_epi32(a[0], 0);
	return 2.0 * 16 * CHAINS * ITERS / t * 1e-9;
}

int main(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl")) {
		printf("vnni_zmm %.1f\n", vnni_zmm());
		printf("vnni_ymm %.1f\n", vnni_ymm());
	} else {
		printf("vnni_zmm skipped (no AVX-512 VNNI)\n");
	}
	if (__builtin_cpu_supports("avx2")) {
		printf("avx2_maddubsw %.1f\n", avx2_ubsw());
		printf("avx2_maddwd %.1f\n", avx2_wd());
	}
	return 0;
}
