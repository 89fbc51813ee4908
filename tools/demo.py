#!/usr/bin/python3
"""The README's main job: quantize a bundled example model with q8c, compile
it for the host, aarch64 and riscv64, run all three (the cross ones under
qemu), then for a Cortex-M4 under qemu-system-arm (footprint, bit-identity
on 50 images), and print one table.  usage: demo.py [MODEL_DIR] [--samples N]"""
import os, re, subprocess, sys, tempfile, time
import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
q8c = os.path.join(root, 'build', 'q8c')
args = [a for a in sys.argv[1:] if not a.startswith('--')]
mdir = os.path.abspath(args[0] if args else os.path.join(root, 'examples', 'cnn'))
nsamp = int(sys.argv[sys.argv.index('--samples') + 1]) if '--samples' in sys.argv else 1000
tmp = tempfile.mkdtemp(prefix='q8c-demo-')
t_start = time.time()


def say(msg):
    print(f'[{time.time() - t_start:6.1f}s] {msg}', flush=True)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f'demo: command failed ({r.returncode}): {" ".join(cmd)}\n{r.stderr[-2000:]}')
    return r.stdout


model = os.path.join(mdir, 'model.q8')
x = np.load(os.path.join(mdir, 'test_x.npy'))[:nsamp].astype('<f4')
labels = np.load(os.path.join(mdir, 'test_y.npy'))[:nsamp]
calib = os.path.join(mdir, 'calib.npy')
xpath = os.path.join(tmp, 'x.npy')
np.save(xpath, x)
say(f'model {os.path.relpath(model, root)}: {len(x)} test images, calibration {calib and np.load(calib).shape[0]} images')


def top1(y):
    return 100.0 * float(np.mean(np.argmax(y.reshape(len(x), -1), axis=1) == labels))


def q8run(*flags):
    y = os.path.join(tmp, 'y.npy')
    run([q8c, 'run', model, '--input', xpath, '--output', y] + list(flags))
    return np.load(y)


rows = []
say('fp32 reference interpreter')
acc_fp32 = top1(q8run('--float'))
acc = {}
for m in ('max', 'percentile', 'kl', 'mse'):
    say(f'int8, calibration {m}')
    acc[m] = top1(q8run('--calib', calib, '--calib-method', m))
ref = q8run('--calib', calib)        # the default method, for bit-exact comparison

host_cc = ['cc', '-O2']
targets = [
    ('host', None, host_cc, []),
    ('aarch64', 'aarch64', ['aarch64-linux-gnu-gcc', '-O2'], ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']),
    ('riscv64-v', 'riscv64-v', ['clang-16', '--target=riscv64-linux-gnu', '-march=rv64gcv', '-O2', '-fuse-ld=bfd'],
     ['qemu-riscv64', '-L', '/usr/riscv64-linux-gnu', '-cpu', 'rv64,v=true,vext_spec=v1.0,vlen=128']),
]
xb = os.path.join(tmp, 'x.bin')
x.tofile(xb)
driver = os.path.join(root, 'tools', 'driver', 'demo_driver.c')


def build(name, target, cc, extra):
    out = os.path.join(tmp, name)
    cmd = [q8c, 'compile', model, '-o', out, '--emit', 'c', '--name', 'm', '--calib', calib] + extra
    if target:
        cmd += ['--target', target]
    rep = run(cmd + ['--report'])
    exe = os.path.join(tmp, name + '.exe')
    run(cc + ['-I', out, '-DQ8_MODEL_H="m.h"', '-DQ8_NAME=m', driver] +
        sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith('.c')) + ['-lm', '-o', exe])
    hdr = open(os.path.join(out, 'm.h')).read()
    arena = int(re.search(r'#define m_ARENA_SIZE\s+(\d+)', hdr).group(1))
    wb = re.search(r'weights (\d+) bytes', rep)
    return exe, arena, int(wb.group(1)) if wb else None


agree = {}
outs = {}
for name, target, cc, emu in targets:
    say(f'compile + run int8 for {name}' + (' (under qemu)' if emu else ''))
    exe, arena, wbytes = build(name, target, cc, [])
    yb = os.path.join(tmp, name + '.y.bin')
    n = len(x) if not emu else min(len(x), 200)
    run(emu + [exe, xb, yb, str(n)])
    outs[name] = np.fromfile(yb, '<f4')
    agree[name] = np.array_equal(outs[name], ref.reshape(-1)[:outs[name].size])
    if name == 'host':
        arena_i8, wb_i8 = arena, wbytes

say('compile for cortex-m4 (bare metal), run under qemu-system-arm -M mps2-an386')
emb = os.path.join(tmp, 'cortex-m4')
run([q8c, 'compile', model, '-o', emb, '--emit', 'c', '--name', 'm', '--calib', calib, '--target', 'cortex-m4'])
bdir = os.path.join(root, 'tests', 'embedded')
n_emb = min(len(x), 50)
x[:n_emb].tofile(os.path.join(emb, 'x.bin'))
run(['arm-none-eabi-gcc', '-mthumb', '-mcpu=cortex-m4', '-mfpu=fpv4-sp-d16', '-mfloat-abi=hard',
     '--specs=picolibc.specs', '--oslib=semihost', '-O2', '-std=c11', '-ffreestanding',
     '-ffunction-sections', '-fdata-sections', '-Wl,--gc-sections', '-I', emb, '-I', bdir, '-L', bdir,
     '-T', 'mps2.ld', os.path.join(bdir, 'main.c'), os.path.join(emb, 'm.c'), '-lm',
     '-o', os.path.join(emb, 'm.elf')])
r = subprocess.run(['qemu-system-arm', '-M', 'mps2-an386', '-nographic', '-semihosting-config',
                    'enable=on,target=native', '-icount', 'shift=0', '-kernel', 'm.elf'],
                   capture_output=True, text=True, cwd=emb, timeout=300)
emb_fig = re.search(r'ticks (\d+)', r.stdout + r.stderr)
y_emb = np.fromfile(os.path.join(emb, 'y.bin'), '<f4') if r.returncode == 0 else np.zeros(0, '<f4')
emb_ok = y_emb.size > 0 and np.array_equal(y_emb, ref.reshape(-1)[:y_emb.size])
hdr = dict(re.findall(r'#define m_(\w+)\s+(\d+)', open(os.path.join(emb, 'm.h')).read()))

say('time int8 vs fp32 on the host')
exe_i8, _, _ = build('host-time', None, host_cc + ['-march=native'], [])
exe_f32, arena_f32, wb_f32 = build('host-f32', None, host_cc + ['-march=native'], ['--float'])
reps = '2000'
us_i8 = float(run([exe_i8, xb, os.path.join(tmp, 't.bin'), '50', reps]).split()[-1])
us_f32 = float(run([exe_f32, xb, os.path.join(tmp, 't.bin'), '50', reps]).split()[-1])

print()
print(f'q8c on {os.path.relpath(model, root)}  ({len(x)} MNIST test images)')
print(f'  {"top-1 fp32":36s} {acc_fp32:6.2f} %')
for m in acc:
    print(f'  {"top-1 int8, calibration " + m:36s} {acc[m]:6.2f} %  ({acc[m] - acc_fp32:+.2f})')
print(f'  {"targets agree bit for bit":36s} ' + ', '.join(f'{k}: {"yes" if v else "NO"}' for k, v in agree.items()))
print(f'  {"µs / inference (host)":36s} int8 {us_i8:.1f}   fp32 {us_f32:.1f}   ({us_f32 / us_i8:.2f}x)')
if wb_f32 and wb_i8:
    print(f'  {"weight bytes":36s} int8 {wb_i8}   fp32 {wb_f32}   ({wb_f32 / wb_i8:.2f}x smaller)')
print(f'  {"arena bytes":36s} int8 {arena_i8}   fp32 {arena_f32}')
print(f'  {"embedded: cortex-m4 footprint":36s} flash {hdr["FLASH_BYTES"]} B, RAM {hdr["RAM_BYTES"]} B '
      f'(arena {hdr["ARENA_SIZE"]} + stack {hdr["STACK_BYTES"]})')
print(f'  {"embedded: bit-identical under qemu":36s} {"yes" if emb_ok else "NO"} ({y_emb.size // max(1, outs["host"].size // len(x))} '
      f'images, mps2-an386)' + (f', {int(emb_fig.group(1)) * 40} instructions / inference' if emb_fig else ''))
sys.exit(0 if all(agree.values()) and emb_ok else 1)
