/* The math of calibration, on histograms of |x| alone (no graph), so that
   tests can call it directly.  bins[k] counts the |x| in
   [k, k+1) * amax / n; every method returns a clipping threshold T in
   (0, amax].  docs/calibration.md explains the choices. */
#include "ir.h"

#include <math.h>

void hist_add(double *bins, int n, double amax, const float *x, int64_t count)
{
	double inv = amax > 0 ? n / amax : 0;
	for (int64_t i = 0; i < count; i++) {
		double a = fabs((double)x[i]);
		if (!isfinite(a))
			continue;
		double k = a * inv;
		bins[k < n ? (int)k : n - 1]++;
	}
}

static double total(const double *bins, int n)
{
	double t = 0;
	for (int k = 0; k < n; k++)
		t += bins[k];
	return t;
}

/* The pct-th percentile of |x|, interpolated linearly inside its bin. */
double hist_percentile(const double *bins, int n, double amax, double pct)
{
	double t = total(bins, n), w = amax / n;
	if (t <= 0)
		return amax;
	double want = pct / 100 * t, cum = 0;
	for (int k = 0; k < n; k++) {
		if (bins[k] > 0 && cum + bins[k] >= want) {
			double frac = (want - cum) / bins[k];
			return (k + (frac > 0 ? frac : 0)) * w;
		}
		cum += bins[k];
	}
	return amax;
}

/* TensorRT's entropy calibration.  For each candidate i (bins kept),
   P = bins[0, i) with everything beyond added to bin i-1; Q = the same
   bins merged into CAL_LEVELS groups, each group's mass spread evenly over
   the bins where P is non-zero; threshold = i * width for the smallest
   KL(P || Q), the last one on ties (NVIDIA's EntropyCalibrator2).  As
   there, bins[0] = bins[1], so that the spike of exact zeros after a relu
   does not dominate.

   O(n * CAL_LEVELS) with prefix sums: inside a group Q is constant, so
   sum p log q = (mass of P in the group) * log q, and sum p log p comes
   from a prefix sum of b log b. */
double hist_kl(const double *bins, int n, double amax)
{
	if (n < CAL_LEVELS)
		die("hist_kl: %d bins, fewer than %d levels", n, CAL_LEVELS);
	double *b = alloc_array((size_t)n, sizeof *b);
	for (int k = 0; k < n; k++)
		b[k] = bins[k];
	if (n > 1)
		b[0] = b[1];
	double *S = alloc_array((size_t)n + 1, sizeof *S); /* sum b */
	double *L = alloc_array((size_t)n + 1, sizeof *L); /* sum b log b */
	int *N = alloc_array((size_t)n + 1, sizeof *N);    /* non-zero bins */
	for (int k = 0; k < n; k++) {
		S[k + 1] = S[k] + b[k];
		L[k + 1] = L[k] + (b[k] > 0 ? b[k] * log(b[k]) : 0);
		N[k + 1] = N[k] + (b[k] > 0);
	}
	double tot = S[n];
	if (tot <= 0)
		return amax;
	double best = INFINITY;
	int besti = n;
	for (int i = CAL_LEVELS; i <= n; i++) {
		double out = tot - S[i], qtot = S[i];
		int m = i / CAL_LEVELS;
		/* sum p log p */
		double kl = (L[i - 1] - S[i - 1] * log(tot)) / tot;
		double last = b[i - 1] + out;
		if (last > 0)
			kl += last / tot * log(last / tot);
		bool inf = false;
		for (int g = 0; g < CAL_LEVELS; g++) {
			int s = g * m, e = g == CAL_LEVELS - 1 ? i : s + m;
			double mass = S[e] - S[s];  /* of Q, before normalising */
			double pm = mass;           /* of P */
			int nz = N[e] - N[s];
			if (g == CAL_LEVELS - 1) {
				pm += out;
				nz += out > 0 && b[i - 1] == 0;
			}
			if (pm <= 0)
				continue;
			if (mass <= 0) {
				inf = true; /* P has mass where Q has none */
				break;
			}
			kl -= pm / tot * log(mass / (nz * qtot));
		}
		if (inf)
			continue;
		/* the sums cancel to ~1e-16: treat closer values as ties */
		if (kl <= best + 1e-12) {
			besti = i;
			if (kl < best)
				best = kl;
		}
	}
	return besti * (amax / n);
}

/* The threshold minimising sum count * (q(c) - c)^2 over the bin centres
   c, with q the symmetric quantizer of 127 levels up to T; candidates are
   the bin edges i * width for i >= CAL_LEVELS (or every edge when there
   are fewer bins).  O(n * 128) with prefix sums of b, b c and b c^2: the
   centres that round to level j are a run of bins, whose error is
   sum b (j s - c)^2 = j^2 s^2 B0 - 2 j s B1 + B2; beyond T all clip to T. */
double hist_mse(const double *bins, int n, double amax)
{
	double w = amax / n;
	if (total(bins, n) <= 0 || w <= 0)
		return amax;
	double *P0 = alloc_array((size_t)n + 1, sizeof *P0);
	double *P1 = alloc_array((size_t)n + 1, sizeof *P1);
	double *P2 = alloc_array((size_t)n + 1, sizeof *P2);
	for (int k = 0; k < n; k++) {
		double c = (k + 0.5) * w;
		P0[k + 1] = P0[k] + bins[k];
		P1[k + 1] = P1[k] + bins[k] * c;
		P2[k + 1] = P2[k] + bins[k] * c * c;
	}
	double best = INFINITY;
	int besti = n;
	for (int i = n < CAL_LEVELS ? 1 : CAL_LEVELS; i <= n; i++) {
		double T = i * w, s = T / 127;
		/* bins [i, n) clip to T */
		double err = (P2[n] - P2[i]) - 2 * T * (P1[n] - P1[i]) + T * T * (P0[n] - P0[i]);
		int lo = 0;
		for (int j = 0; j <= 127 && lo < i; j++) {
			/* first bin whose centre rounds above j: c >= (j + 0.5) s */
			int hi = j == 127 ? i : (int)ceil((j + 0.5) * s / w - 0.5);
			if (hi > i)
				hi = i;
			if (hi <= lo)
				continue;
			double v = j * s, B0 = P0[hi] - P0[lo], B1 = P1[hi] - P1[lo], B2 = P2[hi] - P2[lo];
			err += v * v * B0 - 2 * v * B1 + B2;
			lo = hi;
		}
		if (err <= best + 1e-9 * fabs(best)) {
			besti = i;
			if (err < best)
				best = err;
		}
	}
	return besti * w;
}

double hist_threshold(CalibMethod m, const double *bins, int n, double amax, double pct)
{
	switch (m) {
	case CAL_MAX: return amax;
	case CAL_PERCENTILE: return hist_percentile(bins, n, amax, pct);
	case CAL_KL: return hist_kl(bins, n, amax);
	case CAL_MSE: return hist_mse(bins, n, amax);
	}
	die("hist_threshold: method %d", (int)m);
}
