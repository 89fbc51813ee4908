/* simd_cross.c, int16 activations: conv2d_a16_ISA and dense_a16_ISA
   (runtime/a16_simd.h) against the portable kernels of runtime/a16.h on
   random shapes (pads, strides, dilations, groups, depthwise, channel
   counts across the vector widths and tails, int16 inputs over the whole
   range, int8 or int16 results, per-channel and per-tensor multipliers).
   select_kernel must choose the variant.  Returns the number of cases, or
   -1 after printing the first mismatch. */

static int a16_case(int kind)
{
	int dense = kind == 2, n = rnd(1, 2), h = rnd(1, 6), w = rnd(1, 6), kh = rnd(1, 3), kw = rnd(1, 3);
	int sh = rnd(1, 2), sw = rnd(1, 2), dh = rnd(1, 2), dw = rnd(1, 2);
	int pt = rnd(0, 2), pl = rnd(0, 2), pb = rnd(0, 2), pr = rnd(0, 2);
	int G = 1, cg = rnd(1, 70), ocg = rnd(1, 12);
	if (kind == 1)
		G = rnd(2, 20), cg = 1, ocg = rnd(1, 2);
	if (dense)
		n = rnd(1, 4), h = w = kh = kw = sh = sw = dh = dw = 1, pt = pl = pb = pr = 0, cg = rnd(1, 300),
		ocg = rnd(1, 20);
	int c = cg * G, oc = ocg * G;
	int oh = (h + pt + pb - (dh * (kh - 1) + 1)) / sh + 1, ow = (w + pl + pr - (dw * (kw - 1) + 1)) / sw + 1;
	if (oh < 1 || ow < 1)
		return 0;
	int nrq = rnd(0, 1) ? oc : 1, y16 = rnd(0, 1);
	int64_t nx = (int64_t)n * h * w * c, nw = (int64_t)oc * kh * kw * cg, ny = (int64_t)n * oh * ow * oc;
	int16_t *x = malloc((size_t)nx * 2);
	int8_t *wt = malloc((size_t)nw);
	int32_t *b = malloc((size_t)oc * 4), *m = malloc((size_t)nrq * 4), *s = malloc((size_t)nrq * 4);
	int16_t *want = malloc((size_t)ny * 2), *got = malloc((size_t)ny * 2);
	for (int64_t i = 0; i < nx; i++)
		x[i] = (int16_t)(rnd(0, 9) ? rnd(-32767, 32767) : rnd(0, 1) ? 32767 : -32768);
	for (int64_t i = 0; i < nw; i++)
		wt[i] = (int8_t)rnd(-127, 127);
	for (int i = 0; i < oc; i++)
		b[i] = rnd(-100000, 100000);
	for (int i = 0; i < nrq; i++)
		m[i] = (1 << 30) + rnd(0, (1 << 30) - 1), s[i] = rnd(-24, -8);
	q8_params q = { 0 };
	int32_t *I = q.i;
	I[Q8_N] = n, I[Q8_H] = h, I[Q8_W] = w, I[Q8_C] = c, I[Q8_OH] = oh, I[Q8_OW] = ow, I[Q8_OC] = oc;
	I[Q8_KH] = kh, I[Q8_KW] = kw, I[Q8_SH] = sh, I[Q8_SW] = sw, I[Q8_DH] = dh, I[Q8_DW] = dw;
	I[Q8_PT] = pt, I[Q8_PL] = pl, I[Q8_PB] = pb, I[Q8_PR] = pr, I[Q8_GROUPS] = G, I[Q8_NRQ] = nrq;
	I[Q8_ADT] = Q8_DT_I16, I[Q8_YDT] = y16 ? Q8_DT_I16 : Q8_DT_I8;
	I[Q8_LO] = y16 ? -32767 : -127, I[Q8_HI] = y16 ? 32767 : 127;
	q.p[Q8P_W] = wt, q.p[Q8P_B] = b, q.p[Q8P_MULT] = m, q.p[Q8P_SHIFT] = s;

	Prog p = { 0 };
	Step st = { .kernel = dense ? "dense_a16" : "conv2d_a16", .p = q };
	for (int i = 0; i < Q8_NP; i++)
		st.pblob[i] = -1;
	st.pblob[Q8P_W] = blob(&p, DT_I8, nw, wt);
	Target tg = { .kind = TK };
	select_kernel(&tg, &p, &st);
	const char *name = dense ? STR(CAT(dense_a16_, ISA)) : STR(CAT(conv2d_a16_, ISA));
	int bad = 0;
	if (strcmp(st.kernel, name))
		bad = FAIL("select_kernel chose %s, not %s\n", st.kernel, name);
	memset(want, 0x55, (size_t)ny * 2);
	memset(got, 0x55, (size_t)ny * 2);
	(dense ? q8k_dense_a16 : q8k_conv2d_a16)(&q, x, NULL, want);
	(dense ? CAT(q8k_dense_a16_, ISA) : CAT(q8k_conv2d_a16_, ISA))(&q, x, NULL, got);
	for (int64_t i = 0; !bad && i < (y16 ? ny * 2 : ny); i++)
		if (((unsigned char *)got)[i] != ((unsigned char *)want)[i])
			bad = FAIL("%s: byte %lld differs (n %d h %d w %d c %d oc %d k %dx%d groups %d)\n", name,
				   (long long)i, n, h, w, c, oc, kh, kw, G);
	free(x), free(wt), free(b), free(m), free(s), free(want), free(got);
	arena_reset();
	return bad ? -1 : 1;
}

static int a16s(int ncase)
{
	int done = 0;
	for (int i = 0; i < ncase; i++) {
		int r = a16_case(i % 3);
		if (r < 0)
			return -1;
		done += r;
	}
	return done;
}
