#!/usr/bin/env python
"""Seconds per record on one core: fast renderer (224, 300, incl. PNG), matplotlib reference, and the study's pipeline.

The study's pipeline is re-created here: ecg_plot/matplotlib figure of the std layout saved as PNG at 300 dpi,
reopened, resized to 224x224 and 300x300, and converted to ImageNet-normalised float arrays.
Timings are the best of a few passes (shared machine).
Usage: python bench/render.py [--n_fast 200] [--n_ref 10] [--n_study 5]   (default run < 60 s)
"""
import os
for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ[v] = '1'
import argparse, io, time
from pathlib import Path

import cv2
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
import ecg_plot

from ecg_vision.render import render, render_reference, encode_png, LAYOUTS
from ecg_vision.synth import synth_record
from ecg_vision.data import read_record, LEADS, FS

cv2.setNumThreads(1)
if hasattr(os, 'sched_setaffinity'): os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)

def records(n):
    "The real Chapman fixture (when present) plus synthetic records of every class."
    fx = Path(__file__).resolve().parents[1]/'nbs/fixtures/chapman/MUSE_20180111_155115_19000.csv'
    recs = [read_record(fx)] if fx.exists() else []
    rhythms = ['SR', 'SB', 'AFIB', 'ST', 'SVT', 'AF']
    recs += [synth_record(rhythms[i % len(rhythms)], i) for i in range(max(0, n - len(recs)))]
    return recs[:n]

def study_pipeline(sig):
    "matplotlib (ecg_plot) figure -> PNG at 300 dpi -> reopen -> resize 224 and 300 -> normalised float."
    L = LAYOUTS['std']; n = int(L.col_seconds*FS)
    seg = np.stack([sig[i, (i//L.rows)*n:(i//L.rows + 1)*n] for i in range(12)])  # sequential 2.5 s windows
    ecg_plot.plot(seg, sample_rate=FS, title='', lead_index=LEADS, columns=L.columns)
    buf = io.BytesIO(); plt.savefig(buf, format='png', dpi=300); plt.close('all')
    im = Image.open(io.BytesIO(buf.getvalue())).convert('RGB')
    return [(np.asarray(im.resize((s, s), Image.BILINEAR), np.float32)/255 - MEAN)/STD for s in (224, 300)]

def per_record(f, recs, reps=1):
    "Seconds per record: the best of `reps` passes over recs (the machine is shared; the minimum is the signal)."
    f(recs[0])  # warm caches / imports
    best = float('inf')
    for _ in range(reps):
        t = time.perf_counter()
        for r in recs: f(r)
        best = min(best, (time.perf_counter() - t)/len(recs))
    return best

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n_fast', type=int, default=200, help='records for the fast renderer')
    p.add_argument('--n_ref', type=int, default=10, help='records for the reference renderer')
    p.add_argument('--n_study', type=int, default=5, help="records for the study's pipeline")
    a = p.parse_args()
    recs = records(max(a.n_fast, a.n_ref, a.n_study))
    rows = [('fast 224x224 + PNG (std)', per_record(lambda s: encode_png(render(s, 'std', (224, 224))), recs[:a.n_fast], 3)),
            ('fast 300x300 + PNG (std)', per_record(lambda s: encode_png(render(s, 'std', (300, 300))), recs[:a.n_fast], 3)),
            ('fast 224x224, no PNG (std)', per_record(lambda s: render(s, 'std', (224, 224)), recs[:a.n_fast], 3)),
            ('fast 224x224 + PNG (2x6)', per_record(lambda s: encode_png(render(s, '2x6', (224, 224))), recs[:a.n_fast], 3)),
            ('reference 224x224 (matplotlib Agg)', per_record(lambda s: render_reference(s, 'std', (224, 224)), recs[:a.n_ref])),
            ("study pipeline (300 dpi PNG -> 224+300 float)", per_record(study_pipeline, recs[:a.n_study]))]
    print(f"one core, {len(recs)} records (real Chapman fixture + synthetic)")
    for name, s in rows: print(f"{name:<48s} {s*1e3:9.2f} ms/record")
    fast, study = rows[0][1], rows[-1][1]
    print(f"speed-up fast 224 + PNG vs study pipeline: {study/fast:.0f}x "
          f"(fast 224 + 300 + PNG vs study: {study/(rows[0][1] + rows[1][1]):.0f}x)")
    print(f"speed-up fast 224 + PNG vs reference renderer: {rows[4][1]/fast:.0f}x")

if __name__ == '__main__': main()
