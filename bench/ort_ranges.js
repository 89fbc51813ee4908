// Calibration ranges for bench/nets.py's QDQ models: runs an fp32 ONNX model
// (every intermediate tensor made a graph output by nets.py) with
// onnxruntime-node on COUNT float samples and prints, as one JSON object, the
// min and max of every output over all samples.
//   node ort_ranges.js MODEL.onnx IN.bin COUNT DIMS
// DIMS: the input shape without the batch dim, comma separated (3,224,224).
// ORT_NODE_DIR: where `npm install onnxruntime-node` was run (default /tmp/ortnode).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(process.env.ORT_NODE_DIR || '/tmp/ortnode', 'node_modules', 'onnxruntime-node'));

async function main() {
	const [model, inPath, countS, dimsS] = process.argv.slice(2);
	const count = parseInt(countS, 10);
	const dims = [1].concat(dimsS.split(',').map(Number));
	const size = dims.reduce((a, b) => a * b, 1);
	const buf = fs.readFileSync(inPath);
	const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
	const sess = await ort.InferenceSession.create(model,
		{ intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'basic' });
	const lo = {}, hi = {};
	for (let i = 0; i < count; i++) {
		const x = new ort.Tensor('float32', all.slice(i * size, (i + 1) * size), dims);
		const r = await sess.run({ [sess.inputNames[0]]: x });
		for (const [k, t] of Object.entries(r)) {
			let a = lo[k] ?? Infinity, b = hi[k] ?? -Infinity;
			for (const v of t.data) {
				if (v < a) a = v;
				if (v > b) b = v;
			}
			lo[k] = a, hi[k] = b;
		}
	}
	const out = {};
	for (const k of Object.keys(lo))
		out[k] = [lo[k], hi[k]];
	console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
