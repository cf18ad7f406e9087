#!/usr/bin/env python
"""Milliseconds per record on one core: fast renderer (plain, page styles, ROBUST, STYLED), PNG, Pillow, reference, pages, photos.

The study's pipeline is re-created here: ecg_plot/matplotlib figure of the std layout saved as PNG at 300 dpi,
reopened, resized to 224x224 and 300x300, and converted to ImageNet-normalised float arrays.
Pillow (no anti-aliasing: drawn at k x the size and box-downsampled) is the rasteriser OpenCV was chosen over; its
SSIM against the matplotlib reference is printed beside the time. Pages (`render_page`) and phone photos of them
(`photograph`) are timed too, and augraphy's pipelines on the same page when augraphy is importable (it is not a
dependency: `pip install augraphy` in a separate environment to compare).
Timings are the best (and median) of a few passes: the machine is shared, the minimum is the signal.
Usage: python bench/render.py [--n_fast 200] [--n_ref 10] [--n_study 5] [--n_pages 4]   (default run < 2 min)
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

from ecg_vision.render import render, render_reference, encode_png, LAYOUTS, ROBUST, STYLED, STYLES, Variation, _background, _prepare, _rgb8, _trace_points, _trace_px
from ecg_vision.styles import Camera, photograph, render_page
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
    "Seconds per record: (best, median) of `reps` passes over recs (the machine is shared; the minimum is the signal)."
    f(recs[0], 0)  # warm caches / imports
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        for i, r in enumerate(recs): f(r, i)
        ts.append((time.perf_counter() - t)/len(recs))
    return min(ts), float(np.median(ts))

def render_pillow(sig, size=(224, 224), k=2):
    "Pillow's rasteriser on the same cached background and vertices: drawn at k x the size, then box-downsampled."
    from PIL import ImageDraw
    L = LAYOUTS['std']; big = (size[0]*k, size[1]*k)
    im = Image.fromarray(_background(L, big)); d = ImageDraw.Draw(im); th = max(1, round(_trace_px(L, size)*k))
    for p in _trace_points(_prepare(sig), L, big): d.line((p/64 + 0.5).ravel().tolist(), fill=_rgb8(L.trace), width=th)
    return np.asarray(im.reduce(k))

def ssim(a, b):
    from skimage.metrics import structural_similarity
    g = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)
    return structural_similarity(g(a), g(b), data_range=255)

def augraphy_rows(page, n):
    "augraphy on the same page: a photo-like custom pipeline and its default pipeline (ms per page), when importable."
    try:
        import augraphy as A
    except ImportError: return [('augraphy (not installed here)', (float('nan'),)*2)]
    custom = A.AugraphyPipeline(ink_phase=[A.InkBleed(p=.5)], paper_phase=[A.ColorPaper(p=.3)],
                                post_phase=[A.Folding(fold_count=2, p=1), A.Geometric(rotate_range=(-15, 15), p=1), A.LightingGradient(p=1),
                                            A.ShadowCast(p=1), A.ReflectedLight(p=.3), A.Moire(p=.2), A.Jpeg(p=1)], random_seed=1)
    bgr = np.ascontiguousarray(page[..., ::-1])
    return [(f'augraphy {k} pipeline on a 100-dpi page', per_record(lambda p, i: pipe(p), [bgr]*n, 2))
            for k, pipe in (('photo-like', custom), ('default', A.default_augraphy_pipeline()))]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n_fast', type=int, default=200, help='records for the fast renderer')
    p.add_argument('--n_ref', type=int, default=10, help='records for the reference renderer')
    p.add_argument('--n_study', type=int, default=5, help="records for the study's pipeline")
    p.add_argument('--n_pages', type=int, default=4, help='pages and photos')
    a = p.parse_args()
    recs = records(max(a.n_fast, a.n_ref, a.n_study))
    styles = Variation(styles=tuple(STYLES))
    fast = lambda **kw: lambda s, i: render(s, 'std', (224, 224), seed=i, **kw)
    rows = [('fast 224x224 + PNG (std)', per_record(lambda s, i: encode_png(render(s, 'std', (224, 224))), recs[:a.n_fast], 5)),
            ('fast 300x300 + PNG (std)', per_record(lambda s, i: encode_png(render(s, 'std', (300, 300))), recs[:a.n_fast], 3)),
            ('fast 224x224, no PNG (std)', per_record(fast(), recs[:a.n_fast], 5)),
            ('fast 224x224, no PNG, page styles (10 styles)', per_record(fast(variation=styles), recs[:a.n_fast], 5)),
            ('fast 224x224, no PNG, ROBUST', per_record(fast(variation=ROBUST), recs[:a.n_fast], 3)),
            ('fast 224x224, no PNG, STYLED (ROBUST + styles)', per_record(fast(variation=STYLED), recs[:a.n_fast], 3)),
            ('fast 224x224, no PNG, STYLED without res_jitter', per_record(fast(variation=Variation(**{**vars(STYLED), 'res_jitter': 0.})), recs[:a.n_fast], 3)),
            ('fast 224x224 + PNG (2x6)', per_record(lambda s, i: encode_png(render(s, '2x6', (224, 224))), recs[:a.n_fast], 3)),
            ('pillow 224x224, 2x supersampled', per_record(lambda s, i: render_pillow(s, k=2), recs[:a.n_ref], 3)),
            ('pillow 224x224, 3x supersampled', per_record(lambda s, i: render_pillow(s, k=3), recs[:a.n_ref], 3)),
            ('reference 224x224 (matplotlib Agg)', per_record(lambda s, i: render_reference(s, 'std', (224, 224)), recs[:a.n_ref])),
            ("study pipeline (300 dpi PNG -> 224+300 float)", per_record(lambda s, i: study_pipeline(s), recs[:a.n_study]))]
    page = render_page(recs[0], 'eik', 0).image
    rows += [('render_page, letter, 100 dpi (1100x850)', per_record(lambda s, i: render_page(s, 'eik', i), recs[:a.n_pages], 3)),
             ('render_page, letter, 200 dpi (2200x1700)', per_record(lambda s, i: render_page(s, 'eik', i, dpi=200), recs[:a.n_pages], 3)),
             ('photograph of a 100-dpi page, 1280x720', per_record(lambda p, i: photograph(p, Camera(), i), [page]*a.n_pages, 3))]
    rows += augraphy_rows(page, a.n_pages)
    print(f"one core, {len(recs)} records (real Chapman fixture + synthetic); best and median of the passes")
    for name, (b, m) in rows: print(f"{name:<52s} {b*1e3:9.2f} {m*1e3:9.2f} ms/record")
    ref = {i: render_reference(r, 'std', (224, 224)) for i, r in enumerate(recs[:a.n_ref])}
    for name, f in (('opencv (chosen)', lambda r: render(r, 'std', (224, 224))), ('pillow 2x', render_pillow), ('pillow 3x', lambda r: render_pillow(r, k=3))):
        print(f"SSIM vs reference, {name:<16s} {np.mean([ssim(f(r), ref[i]) for i, r in enumerate(recs[:a.n_ref])]):.3f} ({a.n_ref} records)")
    fast_png, study = rows[0][1][0], rows[11][1][0]
    print(f"speed-up fast 224 + PNG vs study pipeline: {study/fast_png:.0f}x "
          f"(fast 224 + 300 + PNG vs study: {study/(rows[0][1][0] + rows[1][1][0]):.0f}x)")
    print(f"speed-up fast 224 + PNG vs reference renderer: {rows[10][1][0]/fast_png:.0f}x")
    print(f"styled / plain (224, no PNG): {rows[3][1][0]/rows[2][1][0]:.2f}x; STYLED / ROBUST: {rows[5][1][0]/rows[4][1][0]:.2f}x")

if __name__ == '__main__': main()
