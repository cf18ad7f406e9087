#!/usr/bin/env python
"""Chart shape and data size at the demo's CPU budget: synthetic F1 against real records and real photos.

Each variant trains EfficientNet-Lite0 from ImageNet with one fixed recipe (head 1 epoch, then full; lr 3e-3 for both;
batch 16; `ROBUST` render variation; captures on a fifth of the training charts each epoch) on `ecg_vision.synth`
records only, then is scored, never tuned, on:
  synth   the synthetic test split (20% of the records; macro-F1 with a 95% bootstrap CI),
  real    every real labelled record `bench/sim2real.py` finds (PTB-XL 1-250 + the CinC-2021 fixtures + Chapman),
          drawn at the run's size: accuracy, balanced accuracy, per-class recall,
  photos  `../shared/data/real_images` through the image front end (digitise route), via `bench/real_images.py`.
A size is 'S' (square) or 'HxW'; the page is 260 x 120 mm, so '96x256' keeps about its aspect (2.2 : 1) and
doubles the pixels per second of the square 128 px chart.

Usage: nice python bench/chart_shape.py --variants 1200:128:12,4000:128:4,4000:96x256:3 [--seed 0] [--fwave_min 0.04] [--out /tmp/chart_shape]
       (a variant is records:size:full-epochs; about 5-8 min each on 2 cores)
"""
from __future__ import annotations
import argparse, json, subprocess, sys, time, warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from sim2real import real_records, score_run
from ecg_vision.synth import SynthConfig, make_synth
from ecg_vision.split import make_split
from ecg_vision.render import ROBUST
from ecg_vision.lmdb import render_to_lmdb
from ecg_vision.train import TrainConfig, train
from ecg_vision.evaluate import evaluate

def data(n:int, seed:int, out:Path, workers:int, fwave_min:float=0.) -> dict:
    "Synthetic records and their split (made once per record count and f-wave floor)."
    d, cfg = out/f'data_n{n}_f{fwave_min:g}', SynthConfig(fwave_mv=(fwave_min, SynthConfig.fwave_mv[1])) if fwave_min else None
    if not (d/'split_test.csv').exists(): make_split(make_synth(d, n, seed, workers, progress=False, cfg=cfg), d, seed=seed, workers=workers, progress=False)
    return dict(train=d/'split_train.csv', test=d/'split_test.csv')

def photos(run:Path, out:Path) -> dict:
    "Accuracy and balanced accuracy of a run on the real photos and ecg-image-kit images (digitise route)."
    r = subprocess.run([sys.executable, str(ROOT/'real_images.py'), '--model', str(run), '--route', 'digitise', '--out', str(out)],
                       capture_output=True, text=True)
    if r.returncode or not (out/'accuracy.csv').exists(): return dict(error=(r.stderr.strip().splitlines() or ['no output'])[-1])
    acc = pd.read_csv(out/'accuracy.csv').query("input == 'digitise'").set_index('kind')
    return {k: dict(n=int(acc.loc[k, 'n']), accuracy=float(acc.loc[k, 'accuracy']), balanced=float(acc.loc[k, 'balanced'])) for k in acc.index}

def variant(n:int, size:str, epochs:int, seed:int, out:Path, real:pd.DataFrame, workers:int, fwave_min:float=0.) -> dict:
    "Train one variant with the fixed recipe and score it on synthetic test, real records and real photos."
    sp, v = data(n, seed, out, workers, fwave_min), out/f'n{n}_{size}_e{epochs}_s{seed}_f{fwave_min:g}'; t0 = time.perf_counter()
    render_to_lmdb(sp['train'], 'std', size, v/'train.lmdb', workers=workers, progress=False, variation=ROBUST, seed=seed)
    render_to_lmdb(sp['test'], 'std', size, v/'test.lmdb', workers=workers, progress=False)
    t1 = time.perf_counter()
    train(TrainConfig(lmdb=str(v/'train.lmdb'), arch='tf_efficientnet_lite0', weights='imagenet', stage='both', head_epochs=1, epochs=epochs,
                      lr=3e-3, bs=16, patience=0, capture=.2, seed=seed, out=str(v/'run'), quiet=True))
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore'); m = evaluate(v/'run', v/'test.lmdb', v/'eval', cost=False, progress=False)['metrics']
    r = score_run(v/'run', sp['test'], size, v/'real', real, None, workers, real_only=True)['real']
    return dict(records=n, fwave_min=fwave_min, size=size, epochs=f'1+{epochs}', seed=seed, train_s=round(t2 - t1), data_s=round(t1 - t0),
                synth_f1=float(m['f1']), synth_ci=[float(c) for c in m.ci['f1']], real=r, photos=photos(v/'run', v/'photos'))

def _right(p:dict, kind:str) -> str:
    "'right/n' of one image kind in `photos`' result ('' when absent)."
    return f"{p[kind]['accuracy']*p[kind]['n']:.0f}/{p[kind]['n']}" if kind in p else ''

def row(r:dict) -> dict:
    "One printable row of a variant's result."
    d, p = r['real'].get('dev', r['real']['all']), r['photos']
    return dict(records=r['records'], fwave_min=r['fwave_min'], size=r['size'], epochs=r['epochs'], seed=r['seed'], train_s=r['train_s'],
                synth_f1=f"{r['synth_f1']:.3f} ({r['synth_ci'][0]:.3f}-{r['synth_ci'][1]:.3f})", dev_n=d['n'],
                dev_bal=round(d['balanced_accuracy'], 3), **{f'dev_{c}': round(v, 2) for c, v in d['recall'].items()},
                photos=_right(p, 'photo') or p.get('error'), eik=_right(p, 'render'))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--variants', default='1200:128:12,4000:128:4,4000:96x256:3', help='comma-separated records:size:full-epochs')
    ap.add_argument('--fwave_min', type=float, default=0., help='floor of the AF f-wave amplitude in mV (default: the generator\'s, 0.01)')
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--out', default='/tmp/chart_shape'); ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args(argv); out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    real, rows = real_records(), []
    for spec in a.variants.split(','):
        n, size, ep = spec.split(':')
        r = variant(int(n), size, int(ep), a.seed, out, real, a.workers, a.fwave_min); rows.append(r)
        print(pd.DataFrame([row(r)]).to_string(index=False), flush=True)
    (out/'results.json').write_text(json.dumps(rows, indent=1, default=str))
    print('\n' + pd.DataFrame([row(r) for r in rows]).to_string(index=False) + f"\nwrote {out/'results.json'}")

if __name__ == '__main__': main()
