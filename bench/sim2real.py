#!/usr/bin/env python
"""Sim-to-real: train on `ecg_vision.synth` data only, then score every real labelled record the project has.

Pipeline (public API only): make_synth -> make_split -> render_to_lmdb -> train (TrainConfig) -> evaluate.
Scored afterwards, never trained or tuned on:
  real       every real labelled 12-lead record: nbs/fixtures/wfdb (*.hea with a SNOMED rhythm in `# Dx:`; records
             without one are skipped), nbs/fixtures/chapman and ../shared/data (README there), deduplicated by record id;
             accuracy with a 95% Wilson interval, balanced accuracy (mean recall of the classes present), per-class
             recall, confusion matrix, and the always-the-commonest-class baseline.
  other_gen  rhythm from a different generator: the project's first generator, frozen in bench/synth_v0.py.
  other_res  the synthetic test split drawn at another resolution than the training one and resized by the model's
             loader (`evaluate` resizes to the trained size).
  synth      the synthetic test split (same generator, same size).
`--ablate` retrains with generator features switched off (same seeds, same recipe) and prints one row per variant.

Usage: python bench/sim2real.py --demo DEMO_OUT        # score the model `ecgv_demo --out DEMO_OUT` trained (no training here)
       nice -n 10 python bench/sim2real.py --recipe tiny|medium|long [--records N] [--size S] [--epochs E] [--arch A]
       [--variation robust|none] [--copies K] [--redraw] [--res_jitter 1.5] [--ablate full,clean,plain,v0] [--out DIR] [--workers 2]
"""
from __future__ import annotations
import argparse, json, shutil, sys, time, warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
from ecg_vision.data import CLASSES, read_labels, read_record, qc_reason, MalformedECG
from ecg_vision.split import make_split
from ecg_vision.synth import SynthConfig, make_synth
from ecg_vision.render import ROBUST
from ecg_vision.lmdb import render_to_lmdb
from ecg_vision.train import TrainConfig, train
from ecg_vision.evaluate import evaluate

RECIPES = dict(  # records (80% train), chart size, epochs, architecture (from scratch), render variation per record
    tiny=dict(records=400, size=96, epochs=6, arch='resnet18', variation='robust', lr=3e-3, bs=32),
    medium=dict(records=600, size=128, epochs=10, arch='resnet18', variation='robust', lr=3e-3, bs=32),
    long=dict(records=4000, size=224, epochs=20, arch='resnet18', variation='robust', lr=2e-3, bs=64))

_PLAIN = dict(bbb_p=0, qwave_p=0, low_volt_p=0, lvh_p=0, t_flat_p=0, t_inv_p=0, st_p=0, pac_p=0, pvc_p=0, edge_p=0,
              rsa=(0, 0), resp_amp=(0, 0))
ABLATIONS = dict(  # variant -> generator config (None: the frozen first generator)
    full=SynthConfig(),
    clean=SynthConfig(noise=False),                            # no recording noise at all
    plain=SynthConfig(**_PLAIN),                               # one normal morphology, no ectopy, no cut-off straddling
    no_ectopy=SynthConfig(pac_p=0, pvc_p=0),
    no_edges=SynthConfig(edge_p=0),
    v0=None)                                                   # the first generator (then other_gen is the new one)

def train_layouts(copies:int) -> list:
    "`copies` aliases of the std layout ('std', 'std~1', ...): each is drawn with its own variation seed (chart_seed)."
    from ecg_vision.render import LAYOUTS
    for k in range(1, copies): LAYOUTS.setdefault(f'std~{k}', replace(LAYOUTS['std'], name=f'std~{k}'))  # before the pool forks
    return ['std'] + [f'std~{k}' for k in range(1, copies)]

def wilson(k:int, n:int, z:float=1.96) -> tuple:
    "Wilson score interval of a proportion k/n."
    if n == 0: return (float('nan'), float('nan'))
    p = k/n; d = 1 + z*z/n; c = (p + z*z/(2*n))/d; h = z*np.sqrt(p*(1 - p)/n + z*z/(4*n*n))/d
    return (float(c - h), float(c + h))

def real_records(roots=(ROOT/'nbs/fixtures/wfdb', ROOT/'nbs/fixtures/chapman', ROOT.parent/'shared/data',
                        Path('/work/shared/data'))) -> pd.DataFrame:
    "Every real labelled record: record_id, path, rhythm, label, y, source; unlabelled or unreadable ones skipped."
    rows = []
    for root in roots:
        root = Path(root)
        if not root.exists(): continue
        for d in sorted({h.parent for h in root.rglob('*.hea')}):
            lab = read_labels(d)
            for r in lab[lab.reason.isna()].itertuples():
                rows.append((r.record_id, str(d/f'{r.record_id}.hea'), r.rhythm, r.label, r.y, str(d)))
        for tab in sorted(root.rglob('Diagnostics.xlsx')) + sorted(root.rglob('Diagnostics.csv')):
            files = {p.stem: p for p in tab.parent.rglob('*.csv') if p.stem != 'Diagnostics'}
            lab = read_labels(tab)
            for r in lab[lab.reason.isna() & lab.record_id.isin(files)].itertuples():
                rows.append((r.record_id, str(files[r.record_id]), r.rhythm, r.label, r.y, str(tab.parent)))
    df = pd.DataFrame(rows, columns=['record_id', 'path', 'rhythm', 'label', 'y', 'source'])
    df = df[~df.record_id.duplicated()].reset_index(drop=True)
    ok = []
    for p in df.path:
        try: ok.append(qc_reason(read_record(p)) is None)
        except MalformedECG: ok.append(False)
    return df[ok].reset_index(drop=True).assign(y=lambda d: d.y.astype(int))

def score_real(pred:pd.DataFrame) -> dict:
    "Accuracy (Wilson 95% CI), balanced accuracy, per-class recall, confusion matrix of one prediction per record."
    probs = pred[[f'p_{c}' for c in CLASSES]].to_numpy()
    p = probs.argmax(1)
    y = pred.true.map(CLASSES.index).to_numpy()
    cm = np.zeros((4, 4), int); np.add.at(cm, (y, p), 1)
    present = [i for i in range(4) if cm[i].sum()]
    rec = {CLASSES[i]: float(cm[i, i]/cm[i].sum()) for i in present}
    k, n = int((y == p).sum()), len(y)
    return dict(n=n, accuracy=k/n, ci95=wilson(k, n), balanced_accuracy=float(np.mean(list(rec.values()))),
                recall=rec, confusion=cm.tolist(), baseline=float(np.bincount(y).max()/n))

def _v0_synth(out, n, seed, workers):
    "The same plan (rhythms, seeds) drawn by the first generator."
    import importlib.util
    if 'synth_v0' not in sys.modules:
        spec = importlib.util.spec_from_file_location('synth_v0', ROOT/'bench/synth_v0.py')
        sys.modules['synth_v0'] = mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return sys.modules['synth_v0'].make_synth(out, n, seed, workers, progress=False)

def _meta(d):
    "A split-like table of every record in a Chapman-layout folder."
    lab = read_labels(Path(d)/'Diagnostics.csv')
    return lab.assign(path=[str(Path(d)/'ECGDataDenoised'/f'{r}.csv') for r in lab.record_id])[['record_id', 'path', 'rhythm', 'label', 'y']]

def score_run(run_dir, test_meta, size:int, out, real:pd.DataFrame, other_gen_dir, workers:int=2) -> dict:
    "Score a trained run on the synthetic test split, the split drawn at another resolution, another generator and real records."
    out = Path(out); other = 224 if size != 224 else 160
    render_to_lmdb(test_meta, 'std', size, out/'test.lmdb', workers=workers, progress=False)
    render_to_lmdb(test_meta, 'std', other, out/'test_res.lmdb', workers=workers, progress=False)
    render_to_lmdb(real, 'std', size, out/'real.lmdb', workers=workers, progress=False)
    render_to_lmdb(_meta(other_gen_dir), 'std', size, out/'other_gen.lmdb', workers=workers, progress=False)
    res = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for k in ('test', 'test_res', 'other_gen', 'real'):
            ev = evaluate(run_dir, out/f'{k}.lmdb', out/f'eval_{k}', n_boot=200, cost=False, progress=False)
            m = ev['metrics']
            res[k] = dict(f1=float(m['f1']), accuracy=float(m['accuracy']), f1_ci=[float(v) for v in m.ci.get('f1', (np.nan, np.nan))])
            if k == 'real':
                pr = pd.read_csv(ev['predictions'])
                res['real'] = score_real(pr)
                pr['pred'] = np.array(CLASSES)[pr[[f'p_{c}' for c in CLASSES]].to_numpy().argmax(1)]
                res['real_predictions'] = pr.assign(rhythm=pr.record_id.astype(str).map(dict(zip(real.record_id, real.rhythm))))[
                    ['record_id', 'rhythm', 'true', 'pred']].to_dict(orient='records')
    return res

def run_variant(name, cfg, rc, out, seed, workers, real, other_gen_dir, quiet=True):
    "Train one generator variant with recipe rc; score synth test, other resolution, other generator and real records."
    t0 = time.perf_counter(); out = Path(out); shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
    data = _v0_synth(out/'data', rc['records'], seed, workers) if cfg is None else \
        make_synth(out/'data', rc['records'], seed, workers, progress=False, cfg=cfg)
    sp = make_split(data, out/'data', seed=seed, workers=workers, progress=False)
    var = ROBUST if rc.get('res_jitter') is None else replace(ROBUST, res_jitter=rc['res_jitter'])  # drawn up to (1+x)-fold and shrunk
    size = rc['size']
    render_to_lmdb(sp['train'], train_layouts(rc.get('copies') or 1), size, out/'train.lmdb', workers=workers, progress=False,
                   **(dict(variation=var) if rc['variation'] == 'robust' else {}))
    tc = TrainConfig(lmdb=str(out/'train.lmdb'), arch=rc['arch'], weights='none', stage='full', epochs=rc['epochs'],
                     lr=rc['lr'], bs=rc['bs'], size=size, seed=seed, patience=rc['epochs'], out=str(out/'run'),
                     redraw=bool(rc.get('redraw')))
    t_data = time.perf_counter() - t0
    run = train(tc); t_train = time.perf_counter() - t0 - t_data
    res = dict(variant=name, seconds_data=round(t_data, 1), seconds_train=round(t_train, 1))
    res.update(score_run(run['run_dir'], sp['test'], size, out, real, other_gen_dir, workers))
    res['seconds_total'] = round(time.perf_counter() - t0, 1)
    return res

def _fmt_real(r):
    lo, hi = r['ci95']
    return (f"accuracy {r['accuracy']:.2f} (95% CI {lo:.2f}-{hi:.2f}, n={r['n']}), balanced accuracy "
            f"{r['balanced_accuracy']:.2f}, recall " + ', '.join(f"{c} {v:.2f}" for c, v in r['recall'].items())
            + f"; always-the-commonest-class {r['baseline']:.2f}")

def _print(r):
    "Print one variant's figures."
    print(f"\n[{r['variant']}] data {r['seconds_data']} s, train {r['seconds_train']} s, total {r['seconds_total']} s")
    print(f"  synthetic test       macro-F1 {r['test']['f1']:.3f}  accuracy {r['test']['accuracy']:.3f}")
    print(f"  other resolution     macro-F1 {r['test_res']['f1']:.3f}  accuracy {r['test_res']['accuracy']:.3f}")
    print(f"  other generator      macro-F1 {r['other_gen']['f1']:.3f}  accuracy {r['other_gen']['accuracy']:.3f}")
    print(f"  real records         {_fmt_real(r['real'])}")
    print('  real confusion (rows true, cols predicted; ' + ' '.join(CLASSES) + '):\n    ' +
          '\n    '.join(' '.join(f'{x:3d}' for x in row) for row in r['real']['confusion']), flush=True)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--recipe', default='tiny', choices=list(RECIPES))
    ap.add_argument('--records', type=int); ap.add_argument('--size', type=int); ap.add_argument('--epochs', type=int)
    ap.add_argument('--arch'); ap.add_argument('--variation', choices=['robust', 'none'])
    ap.add_argument('--copies', type=int, help='differently varied charts per training record (default 1)')
    ap.add_argument('--redraw', action='store_true', default=None, help='draw every training chart anew each epoch (TrainConfig.redraw)')
    ap.add_argument('--res_jitter', type=float, help=f"draw each training chart up to (1+X)-fold larger and shrink it (ROBUST's: {ROBUST.res_jitter})")
    ap.add_argument('--ablate', default='', help=f"comma-separated variants among {','.join(ABLATIONS)} (default: full only)")
    ap.add_argument('--demo', help='an `ecgv_demo --out` folder: score its model (no training; its own chart size and test split)')
    ap.add_argument('--other_n', type=int, default=200, help='records of the different generator')
    ap.add_argument('--out', default='/tmp/sim2real'); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args(argv)
    rc = dict(RECIPES[a.recipe]); rc.update({k: v for k, v in dict(records=a.records, size=a.size, epochs=a.epochs,
                                                                      arch=a.arch, variation=a.variation, copies=a.copies, redraw=a.redraw,
                                                                      res_jitter=a.res_jitter).items() if v is not None})
    variants = [v for v in (a.ablate.split(',') if a.ablate else ['full']) if v]
    bad = [v for v in variants if v not in ABLATIONS]
    if bad: raise SystemExit(f"sim2real: unknown variant(s) {bad}; choose from {list(ABLATIONS)}")
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    real = real_records()
    if not a.demo or a.ablate: print(f"recipe {a.recipe}: {rc}")
    print(f"real records: {len(real)} ({real.rhythm.value_counts().to_dict()}) from {sorted(set(real.source))}", flush=True)
    og_v0 = _v0_synth(out/'other_v0', a.other_n, a.seed + 1000, a.workers)
    og_new = make_synth(out/'other_new', a.other_n, a.seed + 1000, a.workers, progress=False)
    rows = []
    if a.demo:  # the demo's own model, trained by `ecgv_demo` with its settings
        d = Path(a.demo); prm = json.loads((d/'demo_params.json').read_text()); t0 = time.perf_counter()
        r = dict(variant=f"demo ({d})", seconds_data=0., seconds_train=0.,
                 **score_run(d/'run', d/'data'/'split_test.csv', prm['size'], out/'demo', real, og_v0, a.workers))
        r['seconds_total'] = round(time.perf_counter() - t0, 1)
        if not a.ablate: variants = []
        print(f"demo model: {prm['arch']} ({prm['weights']}), {prm['n']} records, {prm['size']} px, "
              f"{prm['head_epochs']}+{prm['epochs']} epochs, capture {prm.get('capture', 0)}")
        rows.append(r); _print(r)
    for v in variants:
        r = run_variant(v, ABLATIONS[v], rc, out/v, a.seed, a.workers, real, og_new if v == 'v0' else og_v0)
        rows.append(r); _print(r)
    tab = pd.DataFrame([dict(variant=r['variant'], synth_f1=r['test']['f1'], res_f1=r['test_res']['f1'],
                             other_gen_f1=r['other_gen']['f1'], real_acc=r['real']['accuracy'],
                             real_bal_acc=r['real']['balanced_accuracy'], minutes=r['seconds_total']/60) for r in rows])
    print('\n' + tab.round(3).to_string(index=False))
    (out/'results.json').write_text(json.dumps(dict(recipe=a.recipe, params=rc, seed=a.seed, variants=rows), indent=1, default=str))
    print(f"wrote {out/'results.json'}")

if __name__ == '__main__': main()
