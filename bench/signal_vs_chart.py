#!/usr/bin/env python
"""Image route or signal route, on one split: the same synthetic records packed as charts and as signals, an image model
and 1-D models trained on the same split on this machine's CPU, scored on the same test records with bootstrap CIs.

Pipeline (public API only): make_synth -> make_split -> render_to_lmdb / signals_to_lmdb -> train (TrainConfig) -> evaluate.
Prints per model: input, parameters, GMACs per input, file size, latency per input, training wall time (and per epoch),
test macro-F1 with its 95% bootstrap CI, and the number of test records; then the MACs of the study's ConvNeXt-base at
224 px against each model's.

Usage: nice -n 10 python bench/signal_vs_chart.py [--records 600] [--size 128] [--image_arch tf_efficientnet_lite0]
       [--image_epochs 8] [--signal_archs tiny1d,resnet1d] [--signal_epochs 15] [--seed 0] [--out DIR]
"""
from __future__ import annotations
import argparse, json, tempfile, time
from pathlib import Path

import pandas as pd, torch

from ecg_vision.split import make_split
from ecg_vision.synth import make_synth
from ecg_vision.lmdb import render_to_lmdb
from ecg_vision.signals import signals_to_lmdb
from ecg_vision.models import build_model, model_cost
from ecg_vision.train import TrainConfig, train
from ecg_vision.evaluate import evaluate


def timed(fn, *a, **kw):
    t = time.perf_counter(); r = fn(*a, **kw); return r, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--records', type=int, default=600); ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--image_arch', default='tf_efficientnet_lite0'); ap.add_argument('--image_weights', default='imagenet')
    ap.add_argument('--image_epochs', type=int, default=8); ap.add_argument('--image_lr', type=float, default=3e-3)
    ap.add_argument('--signal_archs', default='tiny1d,resnet1d'); ap.add_argument('--signal_epochs', type=int, default=15)
    ap.add_argument('--signal_lr', type=float, default=3e-3); ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--out', default='')
    a = ap.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix='signal-vs-chart-'))
    print(f"torch threads {torch.get_num_threads()}; writing to {out}", flush=True)
    sp = make_split(make_synth(out/'synth', n=a.records, seed=a.seed, progress=False, workers=1), out/'synth', seed=a.seed, progress=False, workers=1)
    packs = {}
    for split in ('train', 'test'):
        (packs[('chart', split)], tc), (packs[('signal', split)], ts) = (
            timed(render_to_lmdb, sp[split], 'std', a.size, out/f'{split}.lmdb', progress=False),
            timed(signals_to_lmdb, sp[split], out/f'{split}_signals.lmdb', progress=False))
        print(f"pack {split}: charts {tc:.1f} s, signals {ts:.1f} s", flush=True)
    runs = [(a.image_arch, 'chart', a.image_weights, a.image_epochs, a.image_lr)] + \
           [(s, 'signal', 'none', a.signal_epochs, a.signal_lr) for s in a.signal_archs.split(',') if s]
    rows = []
    for arch, kind, weights, epochs, lr in runs:
        cfg = TrainConfig(lmdb=str(packs[(kind, 'train')]), arch=arch, weights=weights, stage='full', epochs=epochs, lr=lr, bs=a.bs,
                          aug=kind == 'signal', patience=0, seed=a.seed, device='cpu', out=str(out/'runs'/arch), quiet=True)
        res, t_train = timed(train, cfg)
        ev = evaluate(out/'runs'/arch, packs[(kind, 'test')], out/'runs'/arch/'eval', n_boot=1000, seed=a.seed, device='cpu', progress=False)
        m, cost = json.loads(ev['metrics_json'].read_text()), json.loads(ev['cost'].read_text())
        lo, hi = m['ci']['f1']
        rows.append(dict(arch=arch, input=kind, weights=weights, params=cost['params'], gmacs=cost['gmacs'], mb=cost['state_dict_mb'],
                         latency_ms=cost['latency_ms'], epochs=epochs, train_s=t_train, s_per_epoch=t_train/epochs,
                         valid_f1=res['best_f1'], test_f1=m['f1'], test_f1_ci=f"{lo:.3f}-{hi:.3f}", n_test=m['n']))
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    ref = model_cost(build_model('convnext_base', 4), 224, reps=1)['gmacs']
    df['convnext_base_224_macs_x'] = ref/df.gmacs
    pd.set_option('display.width', 250)
    print(f"\n{a.records} synthetic records (seed {a.seed}), train {len(pd.read_csv(sp['train']))} (20% of it validation), "
          f"test {len(pd.read_csv(sp['test']))}; charts: std layout, {a.size} px; signals: 12 x 5000 at 500 Hz")
    print(df.round(4).to_string(index=False))
    print(f"ConvNeXt-base at 224 px: {ref:.2f} GMACs per chart")
    df.to_csv(out/'signal_vs_chart.csv', index=False)


if __name__ == '__main__': main()
