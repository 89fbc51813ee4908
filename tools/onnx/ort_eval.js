// Runs an ONNX model with onnxruntime-node on a batch of samples, one by one,
// and writes every graph output of every sample (export.py: reference outputs,
// and the ranges of every tensor for calibration).
//   node ort_eval.js MODEL.onnx IN.bin COUNT DIMS OUTDIR
// IN.bin: COUNT float32 samples of shape DIMS (without the batch dim, comma
// separated). OUTDIR/K.bin: the float32 values of output K for all samples, in
// order; OUTDIR/outputs.json: the output names. One thread, all graph
// optimizations (what a user of ORT gets by default).
// ORT_NODE_DIR: where `npm install onnxruntime-node` was run (default /tmp/ortnode).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(process.env.ORT_NODE_DIR || '/tmp/ortnode', 'node_modules', 'onnxruntime-node'));

async function main() {
	const [model, inPath, countS, dimsS, outDir] = process.argv.slice(2);
	const count = parseInt(countS, 10);
	const dims = [1].concat(dimsS.split(',').map(Number));
	const size = dims.reduce((a, b) => a * b, 1);
	const buf = fs.readFileSync(inPath);
	const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
	if (all.length !== count * size)
		throw new Error(`${inPath}: ${all.length} floats, need ${count * size}`);
	const sess = await ort.InferenceSession.create(model, {
		intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
	});
	const names = sess.outputNames;
	const parts = names.map(() => []);
	for (let i = 0; i < count; i++) {
		const feed = { [sess.inputNames[0]]: new ort.Tensor('float32', all.slice(i * size, (i + 1) * size), dims) };
		const r = await sess.run(feed);
		names.forEach((n, k) => parts[k].push(Float32Array.from(r[n].data)));
	}
	fs.mkdirSync(outDir, { recursive: true });
	parts.forEach((p, k) => {
		const n = p.reduce((a, t) => a + t.length, 0), y = new Float32Array(n);
		let o = 0;
		for (const t of p) { y.set(t, o); o += t.length; }
		fs.writeFileSync(path.join(outDir, k + '.bin'), Buffer.from(y.buffer));
	});
	fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify({ names, version: ort.env.versions.common }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
