// Runs an ONNX model with onnxruntime-node for compare.py, one thread, batch 1.
//   node ort_run.js MODEL.onnx IN.bin COUNT DIMS OUT.bin WARMUP REPS [OPTIMIZED.onnx]
// DIMS: the input shape without the batch dim, comma separated (e.g. 1,28,28).
// Runs the COUNT float samples of IN.bin one by one and writes their outputs to
// OUT.bin, then WARMUP untimed and REPS timed runs (each timed on its own,
// cycling through the samples). Prints one JSON line: median_us, p10_us.
// ORT_NODE_DIR: where `npm install onnxruntime-node` was run (default /tmp/ortnode).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(process.env.ORT_NODE_DIR || '/tmp/ortnode', 'node_modules', 'onnxruntime-node'));

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
	const feeds = [];
	for (let i = 0; i < count; i++)
		feeds.push({ [inName]: new ort.Tensor('float32', all.slice(i * size, (i + 1) * size), dims) });
	const outs = [];
	for (let i = 0; i < count; i++)
		outs.push((await sess.run(feeds[i]))[outName].data);
	const osz = outs[0].length;
	const y = new Float32Array(count * osz);
	outs.forEach((o, i) => y.set(o, i * osz));
	fs.writeFileSync(outPath, Buffer.from(y.buffer));
	for (let k = 0; k < warm; k++)
		await sess.run(feeds[k % count]);
	const t = new Float64Array(reps);
	for (let k = 0; k < reps; k++) {
		const t0 = process.hrtime.bigint();
		await sess.run(feeds[k % count]);
		t[k] = Number(process.hrtime.bigint() - t0) / 1e3;
	}
	t.sort();
	console.log(JSON.stringify({ median_us: t[reps >> 1], p10_us: t[Math.floor(reps / 10)], version: ort.env.versions.common }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
