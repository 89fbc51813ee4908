// Runs an ONNX model with onnxruntime-node for compare.py, one thread, batch 1.
//   node ort_run.js MODEL.onnx IN.bin COUNT DIMS OUT.bin WARMUP REPS [OPTIMIZED.onnx]
// DIMS: the input shape without the batch dim, comma separated (e.g. 1,28,28).
// Runs the COUNT float samples of IN.bin one by one and writes their outputs to
// OUT.bin, then WARMUP untimed and REPS timed runs (each timed on its own,
// cycling through the samples). Prints one JSON line: median_us and p10_us of the
// synchronous native run (the binding's InferenceSession.run, which calls
// OrtApi::Run directly: the closest Node gets to the C API), and async_us, the
// median of the public `await session.run()` (which adds an event-loop turn).
// ORT_NODE_DIR: where `npm install onnxruntime-node` was run (default /tmp/ortnode).
'use strict';
const fs = require('fs');
const path = require('path');
const pkg = path.join(process.env.ORT_NODE_DIR || '/tmp/ortnode', 'node_modules', 'onnxruntime-node');
const ort = require(pkg);
const { binding, initOrt } = require(path.join(pkg, 'dist', 'binding'));

function median(t) {
	t.sort();
	return [t[t.length >> 1], t[Math.floor(t.length / 10)]];
}

async function main() {
	const [model, inPath, countS, dimsS, outPath, warmS, repsS, optPath] = process.argv.slice(2);
	const count = parseInt(countS, 10), warm = parseInt(warmS, 10), reps = parseInt(repsS, 10);
	const dims = [1].concat(dimsS.split(',').map(Number));
	const size = dims.reduce((a, b) => a * b, 1);
	const buf = fs.readFileSync(inPath);
	const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
	if (all.length < count * size)
		throw new Error(`${inPath}: ${all.length} floats, need ${count * size}`);
	const opts = {
		intraOpNumThreads: 1,
		interOpNumThreads: 1,
		executionMode: 'sequential',
		graphOptimizationLevel: 'all',
	};
	if (optPath)
		opts.optimizedModelFilePath = optPath;
	const sess = await ort.InferenceSession.create(model, opts);
	const inName = sess.inputNames[0], outName = sess.outputNames[0];
	// the same model loaded a second time, run through the synchronous native call
	initOrt();
	const raw = new binding.InferenceSession();
	delete opts.optimizedModelFilePath;
	raw.loadModel(model, opts);
	const fetch = { [outName]: null };
	const feeds = [];
	for (let i = 0; i < count; i++)
		feeds.push({ [inName]: new ort.Tensor('float32', all.slice(i * size, (i + 1) * size), dims) });
	const outs = [];
	for (let i = 0; i < count; i++)
		outs.push(raw.run(feeds[i], fetch, {})[outName].data);
	const osz = outs[0].length;
	const y = new Float32Array(count * osz);
	outs.forEach((o, i) => y.set(o, i * osz));
	fs.writeFileSync(outPath, Buffer.from(y.buffer));
	const check = (await sess.run(feeds[0]))[outName].data;
	if (check.some((v, i) => v !== outs[0][i]))
		throw new Error('session.run and the native run disagree');
	for (let k = 0; k < warm; k++)
		raw.run(feeds[k % count], fetch, {});
	const t = new Float64Array(reps);
	for (let k = 0; k < reps; k++) {
		const t0 = process.hrtime.bigint();
		raw.run(feeds[k % count], fetch, {});
		t[k] = Number(process.hrtime.bigint() - t0) / 1e3;
	}
	const ta = new Float64Array(reps);
	for (let k = 0; k < warm; k++)
		await sess.run(feeds[k % count]);
	for (let k = 0; k < reps; k++) {
		const t0 = process.hrtime.bigint();
		await sess.run(feeds[k % count]);
		ta[k] = Number(process.hrtime.bigint() - t0) / 1e3;
	}
	const [med, p10] = median(t), [amed] = median(ta);
	console.log(JSON.stringify({ median_us: med, p10_us: p10, async_us: amed, version: ort.env.versions.common }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
