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
from ecg_vision.synth import SynthConfig, STRICT_BORDERS, make_synth
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
    strict=SynthConfig(**STRICT_BORDERS, edge_p=0.25),           # the machine's cut-offs (SB < 60 <= SR <= 100 < ST) instead of bands
    old_ectopy=SynthConfig(pac_p=0.12, pvc_p=0.12, ectopics=(1, 3), frequent_p=0),  # ectopy as before: rarer, never frequent
    old_noise=SynthConfig(emg_mv=(0.002, 0.05), wander_mv=(0.02, 1.0)),             # EMG noise as before (3x PTB-XL's median)
    old_af=SynthConfig(bpm_afib=(50., 91., 180.), afib_cv=(0.12, 0.35), flutter_mv=(0.08, 0.3), flutter_jitter_ms=(0., 0.), hrv=(0.003, 0.03)),
    before=SynthConfig(**STRICT_BORDERS, edge_p=0.25, hrv=(0.003, 0.03), afib_cv=(0.12, 0.35), bpm_afib=(50., 91., 180.), pr_ms=(120., 220.),
                       avb1_p=0., pac_p=0.12, pvc_p=0.12, ectopics=(1, 3), frequent_p=0., flutter_mv=(0.08, 0.3), flutter_jitter_ms=(0., 0.),
                       wander_mv=(0.02, 1.0), emg_mv=(0.002, 0.05), p_amp=(0.6, 1.5), t_amp=(0.6, 1.4)),  # every range as before this change
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

PTBXL_RHYTHMS = dict(AFIB='AFIB', AFLT='AF', STACH='ST', SVTAC='SVT', PSVT='SVT', SBRAD='SB', SR='SR', SARRH='SI')

def ptbxl_records(root) -> pd.DataFrame:
    "PTB-XL records in the release layout with one 4-class rhythm label (`scp_codes`; none, conflicting or PACE: skipped)."
    import ast
    from ecg_vision.data import RHYTHM_TO_CLASS
    root = Path(root); db = pd.read_csv(root/'ptbxl_database.csv'); rows = []
    for r in db.itertuples():
        d = ast.literal_eval(r.scp_codes)
        codes = [PTBXL_RHYTHMS[k] for k in d if k in PTBXL_RHYTHMS]
        cls = {RHYTHM_TO_CLASS[c] for c in codes}
        if 'PACE' in d or len(cls) != 1 or not (root/f'{r.filename_hr}.hea').is_file(): continue
        c = cls.pop(); rows.append((Path(r.filename_hr).name, str(root/f'{r.filename_hr}.hea'), codes[0], c, CLASSES.index(c), str(root)))
    return pd.DataFrame(rows, columns=['record_id', 'path', 'rhythm', 'label', 'y', 'source'])

def dataset_of(source:str) -> str:
    "The public dataset a real record's folder belongs to: CinC 2021, Chapman or PTB-XL."
    s = source.lower()
    return 'PTB-XL' if 'ptbxl' in s else 'Chapman' if 'chapman' in s else 'CinC 2021'

def real_records(roots=(ROOT/'nbs/fixtures/wfdb', ROOT/'nbs/fixtures/chapman', ROOT.parent/'shared/data',
                        Path('/work/shared/data'))) -> pd.DataFrame:
    "Every real labelled record: record_id, path, rhythm, label, y, source, dataset; unlabelled or unreadable ones skipped."
    rows = []
    for root in roots:
        root = Path(root)
        if not root.exists(): continue
        for d in sorted({h.parent for h in root.rglob('*.hea')}):
            if (d.parent.parent/'ptbxl_database.csv').exists(): continue          # PTB-XL: labels from its table
            lab = read_labels(d)
            for r in lab[lab.reason.isna()].itertuples():
                rows.append((r.record_id, str(d/f'{r.record_id}.hea'), r.rhythm, r.label, r.y, str(d)))
        for tab in sorted(root.rglob('Diagnostics.xlsx')) + sorted(root.rglob('Diagnostics.csv')):
            files = {p.stem: p for p in tab.parent.rglob('*.csv') if p.stem != 'Diagnostics'}
            lab = read_labels(tab)
            for r in lab[lab.reason.isna() & lab.record_id.isin(files)].itertuples():
                rows.append((r.record_id, str(files[r.record_id]), r.rhythm, r.label, r.y, str(tab.parent)))
        for db in sorted(root.rglob('ptbxl_database.csv')):
            rows += list(ptbxl_records(db.parent).itertuples(index=False, name=None))
    df = pd.DataFrame(rows, columns=['record_id', 'path', 'rhythm', 'label', 'y', 'source'])
    df = df[~df.record_id.duplicated()].reset_index(drop=True)
    ok = []
    for p in df.path:
        try: ok.append(qc_reason(read_record(p)) is None)
        except MalformedECG: ok.append(False)
    return df[ok].reset_index(drop=True).assign(y=lambda d: d.y.astype(int), dataset=lambda d: d.source.map(dataset_of))

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
                recall=rec, support={CLASSES[i]: int(cm[i].sum()) for i in present}, confusion=cm.tolist(),
                baseline=float(np.bincount(y).max()/n))

DATASETS = ('CinC 2021', 'Chapman', 'PTB-XL')

def score_by_dataset(pred:pd.DataFrame, # one row per record: record_id, true, p_AFIB..p_SR
                     real:pd.DataFrame, # `real_records()`
                    ) -> dict: # 'all', 'dev' (PTB-XL + CinC 2021) and one entry per dataset present: `score_real`
    "`score_real` over all real records, the dev set of the issue (PTB-XL 1-250 + CinC 2021) and each dataset alone."
    ds = pred.record_id.astype(str).map(dict(zip(real.record_id, real.dataset)))
    out = dict(all=score_real(pred))
    dev = ds.isin(['PTB-XL', 'CinC 2021'])
    if dev.any() and not dev.all(): out['dev'] = score_real(pred[dev])
    for d in DATASETS:
        if (ds == d).any(): out[d] = score_real(pred[ds == d])
    return out

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

def score_run(run_dir, test_meta, size:int, out, real:pd.DataFrame, other_gen_dir, workers:int=2, real_only:bool=False) -> dict:
    "Score a trained run on the synthetic test split, the split drawn at another resolution, another generator and real records."
    out = Path(out); other = 224 if size != 224 else 160
    render_to_lmdb(real, 'std', size, out/'real.lmdb', workers=workers, progress=False)
    if not real_only:
        render_to_lmdb(test_meta, 'std', size, out/'test.lmdb', workers=workers, progress=False)
        render_to_lmdb(test_meta, 'std', other, out/'test_res.lmdb', workers=workers, progress=False)
        render_to_lmdb(_meta(other_gen_dir), 'std', size, out/'other_gen.lmdb', workers=workers, progress=False)
    res = {k: dict(f1=np.nan, accuracy=np.nan) for k in ('test', 'test_res', 'other_gen')}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for k in (('real',) if real_only else ('test', 'test_res', 'other_gen', 'real')):
            ev = evaluate(run_dir, out/f'{k}.lmdb', out/f'eval_{k}', n_boot=200, cost=False, progress=False)
            m = ev['metrics']
            res[k] = dict(f1=float(m['f1']), accuracy=float(m['accuracy']), f1_ci=[float(v) for v in m.ci.get('f1', (np.nan, np.nan))])
            if k == 'real':
                pr = pd.read_csv(ev['predictions'])
                res['real'] = score_by_dataset(pr, real)
                pr['pred'] = np.array(CLASSES)[pr[[f'p_{c}' for c in CLASSES]].to_numpy().argmax(1)]
                res['real_predictions'] = pr.assign(rhythm=pr.record_id.astype(str).map(dict(zip(real.record_id, real.rhythm))))[
                    ['record_id', 'rhythm', 'true', 'pred']].to_dict(orient='records')
    return res

def _real_features(real:pd.DataFrame, out, workers:int) -> pd.DataFrame:
    "Rhythm features of every real record (cached in out/real_features.csv)."
    from ecg_vision.rhythm import feature_table, FEATURES
    f = Path(out)/'real_features.csv'
    if f.exists():
        X = pd.read_csv(f, index_col=0); X.index = X.index.astype(str)
        if set(real.record_id) <= set(X.index): return X.loc[real.record_id]
    X = feature_table(dict(zip(real.record_id, real.path)), workers)
    X.to_csv(f); return X.loc[[r for r in real.record_id if r in X.index]]

def _pred_frame(ids, true, probs, classes) -> pd.DataFrame:
    "A predictions table like `evaluate` writes: record_id, true, p_<class> in CLASSES order."
    P = np.zeros((len(ids), len(CLASSES)))
    for k, c in enumerate(classes): P[:, CLASSES.index(c)] = probs[:, k]
    return pd.DataFrame(P, columns=[f'p_{c}' for c in CLASSES]).assign(record_id=list(ids), true=list(true))

def rhythm_variant(name, cfg, n:int, seed:int, out, real:pd.DataFrame, workers:int) -> dict:
    "Train the classical rhythm baseline (ecg_vision.rhythm) on `n` records of one generator variant; score the real records."
    from ecg_vision.rhythm import synth_features, fit_rhythm, predict_proba, save_model, RhythmConfig
    t0 = time.perf_counter(); out = Path(out); out.mkdir(parents=True, exist_ok=True)
    if cfg is None: raise SystemExit("sim2real: --rhythm trains on ecg_vision.synth variants only (not v0)")
    tr = synth_features(n, seed, cfg, workers)
    model = fit_rhythm(tr, RhythmConfig(seed=seed)); save_model(model, out/f'rhythm_{name}.json')
    X = _real_features(real, out.parent, workers)
    lab = dict(zip(real.record_id, real.label))
    pr = _pred_frame(X.index, [lab[r] for r in X.index], predict_proba(model, X), model['classes'])
    held = synth_features(400, seed + 1, cfg, workers)
    acc = float((np.array(model['classes'])[predict_proba(model, held).argmax(1)] == held.label.to_numpy()).mean())
    pr['pred'] = np.array(CLASSES)[pr[[f'p_{c}' for c in CLASSES]].to_numpy().argmax(1)]
    return dict(variant=f'rhythm/{name}', synth_acc=acc, real=score_by_dataset(pr, real), seconds=round(time.perf_counter() - t0, 1),
                real_predictions=pr.assign(rhythm=pr.record_id.map(dict(zip(real.record_id, real.rhythm))))[
                    ['record_id', 'rhythm', 'true', 'pred']].to_dict(orient='records'))

def _probe_input(x):
    "A record as the 1-D probe reads it: 100 Hz, each lead centred, the record scaled by its median lead range."
    from scipy.signal import resample_poly
    x = resample_poly(np.asarray(x, np.float64), 1, 5, axis=1)[:, :1000]
    x = x - np.median(x, 1, keepdims=True)
    return (x/(np.median(np.percentile(np.abs(x), 99, axis=1)) + 1e-3)).astype(np.float32)

def probe_variant(name, cfg, n:int, seed:int, out, real:pd.DataFrame, epochs:int=8) -> dict:
    "A fast 1-D CNN on the signal (100 Hz, 12 leads), trained on `n` synthetic records of one variant; score the real records."
    import torch, torch.nn as nn
    from ecg_vision.synth import synth_plan, synth_record
    from ecg_vision.data import RHYTHM_TO_CLASS
    t0 = time.perf_counter(); torch.manual_seed(seed)
    plan = synth_plan(n, seed)
    X = torch.from_numpy(np.stack([_probe_input(synth_record(r, int(s), cfg=cfg)) for r, s in zip(plan.Rhythm, plan.seed)]))
    y = torch.tensor(plan.Rhythm.map(RHYTHM_TO_CLASS).map(CLASSES.index).to_numpy())
    def block(i, o, k, s): return nn.Sequential(nn.Conv1d(i, o, k, s, k//2), nn.BatchNorm1d(o), nn.ReLU())
    net = nn.Sequential(block(12, 32, 7, 2), block(32, 48, 7, 2), block(48, 64, 7, 2), block(64, 64, 7, 2), block(64, 64, 5, 1),
                        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 4))
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs*((n + 63)//64))
    for ep in range(epochs):
        net.train()
        for b in torch.randperm(n).split(64):
            xb = X[b]*torch.empty(len(b), 1, 1).uniform_(0.7, 1.3); sh = int(torch.randint(0, 100, ()))
            loss = nn.functional.cross_entropy(net(torch.roll(xb, sh, 2)), y[b]); opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    net.eval()
    with torch.no_grad():
        R = torch.from_numpy(np.stack([_probe_input(read_record(p)) for p in real.path]))
        P = torch.cat([net(R[i:i + 128]).softmax(1) for i in range(0, len(R), 128)]).numpy()
        hp = synth_plan(400, seed + 1)
        H = torch.from_numpy(np.stack([_probe_input(synth_record(r, int(s), cfg=cfg)) for r, s in zip(hp.Rhythm, hp.seed)]))
        acc = float((net(H).argmax(1).numpy() == hp.Rhythm.map(RHYTHM_TO_CLASS).map(CLASSES.index).to_numpy()).mean())
    pr = _pred_frame(real.record_id, real.label, P, CLASSES)
    pr['pred'] = np.array(CLASSES)[P.argmax(1)]
    return dict(variant=f'probe/{name}', synth_acc=acc, real=score_by_dataset(pr, real), seconds=round(time.perf_counter() - t0, 1),
                real_predictions=pr.assign(rhythm=list(real.rhythm))[['record_id', 'rhythm', 'true', 'pred']].to_dict(orient='records'))

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

def demo_variant(name, cfg, out, real:pd.DataFrame, workers:int, seed:int=0) -> dict:
    "Run `ecgv_demo`'s pipeline (its defaults, in this process) on records of one generator variant; score its model on the real records."
    import ecg_vision.synth as S
    from ecg_vision.demo import DemoConfig, run_demo
    t0 = time.perf_counter(); out = Path(out); shutil.rmtree(out, ignore_errors=True)
    orig = S.make_synth
    S.make_synth = lambda *a, **k: (orig(*a, **{**k, 'cfg': cfg}) if cfg is not None else _v0_synth(*a[:4], **{k_: v for k_, v in k.items() if k_ == 'workers'}))
    try: res = run_demo(DemoConfig(out=str(out), seed=seed, workers=workers, robust=False, explain_n=2), progress=False)
    finally: S.make_synth = orig
    prm = json.loads((out/'demo_params.json').read_text())
    r = dict(variant=f'demo/{name}', seconds_demo=round(time.perf_counter() - t0, 1), synth_f1=float(res['metrics']['f1']),
             **score_run(out/'run', None, prm['size'], out/'score', real, None, workers, real_only=True))
    return r

def _fmt_real(r):
    lo, hi = r['ci95']
    return (f"accuracy {r['accuracy']:.2f} (95% CI {lo:.2f}-{hi:.2f}, n={r['n']}), balanced accuracy "
            f"{r['balanced_accuracy']:.2f}, recall " + ', '.join(f"{c} {v:.2f} ({r['support'][c]})" for c, v in r['recall'].items())
            + f"; always-the-commonest-class {r['baseline']:.2f}")

def print_real(scores:dict, indent:str='  '):
    "Print `score_by_dataset`'s figures: one line and a confusion matrix per scope."
    for k, r in scores.items():
        print(f"{indent}real {k:<10} {_fmt_real(r)}")
        print(f"{indent}  confusion (rows true, cols predicted; {' '.join(CLASSES)}): " +
              ' | '.join(' '.join(f'{x:3d}' for x in row) for row in r['confusion']), flush=True)

def _print(r):
    "Print one variant's figures."
    print(f"\n[{r['variant']}] data {r['seconds_data']} s, train {r['seconds_train']} s, total {r['seconds_total']} s")
    print(f"  synthetic test       macro-F1 {r['test']['f1']:.3f}  accuracy {r['test']['accuracy']:.3f}")
    print(f"  other resolution     macro-F1 {r['test_res']['f1']:.3f}  accuracy {r['test_res']['accuracy']:.3f}")
    print(f"  other generator      macro-F1 {r['other_gen']['f1']:.3f}  accuracy {r['other_gen']['accuracy']:.3f}")
    print_real(r['real'])

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
    ap.add_argument('--rhythm', action='store_true', help='score the classical rhythm baseline (ecg_vision.rhythm) per variant instead of training image models')
    ap.add_argument('--probe', action='store_true', help='score a fast 1-D CNN on the signal per variant instead of training image models')
    ap.add_argument('--demo_ablate', default='', help="comma-separated variants: run the demo's pipeline on each generator variant (no robustness step) and score it")
    ap.add_argument('--signal_n', type=int, default=3000, help='synthetic training records of --rhythm / --probe')
    ap.add_argument('--real_only', action='store_true', help='with --demo: score the real records only')
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
    print(f"real records: {len(real)}; " + '; '.join(f"{d}: {len(g)} {g.label.value_counts().to_dict()}" for d, g in real.groupby('dataset')), flush=True)
    if a.rhythm or a.probe:  # signal models: no charts, no image training
        rows = []
        for v in variants:
            for kind, fn in (('rhythm', rhythm_variant), ('probe', probe_variant)):
                if not getattr(a, kind): continue
                kw = dict(workers=a.workers) if kind == 'rhythm' else {}
                r = fn(v, ABLATIONS[v], a.signal_n, a.seed, out/kind, real, **kw); rows.append(r)
                print(f"\n[{r['variant']}] {a.signal_n} synthetic records, {r['seconds']} s; held-out synthetic accuracy {r['synth_acc']:.3f}")
                print_real(r['real'])
        tab = pd.DataFrame([dict(variant=r['variant'], synth_acc=r['synth_acc'], **{f"{k} bal.acc": r['real'][k]['balanced_accuracy']
                                 for k in ('dev', 'CinC 2021', 'PTB-XL')}, dev_AFIB=r['real']['dev']['recall'].get('AFIB'),
                                 dev_SR=r['real']['dev']['recall'].get('SR')) for r in rows])
        print('\n' + tab.round(3).to_string(index=False))
        (out/'signal_results.json').write_text(json.dumps(dict(n=a.signal_n, seed=a.seed, variants=rows), indent=1, default=str))
        print(f"wrote {out/'signal_results.json'}"); return
    if a.demo_ablate:
        rows = []
        for v in a.demo_ablate.split(','):
            if v not in ABLATIONS: raise SystemExit(f"sim2real: unknown variant {v!r}; choose from {list(ABLATIONS)}")
            r = demo_variant(v, ABLATIONS[v], out/f'demo_{v}', real, a.workers, a.seed); rows.append(r)
            print(f"\n[{r['variant']}] demo pipeline {r['seconds_demo']} s; synthetic test macro-F1 {r['synth_f1']:.3f}"); print_real(r['real'])
        (out/'demo_ablate.json').write_text(json.dumps(dict(seed=a.seed, variants=rows), indent=1, default=str))
        print(f"wrote {out/'demo_ablate.json'}"); return
    quick = a.demo and a.real_only and not a.ablate
    og_v0 = None if quick else _v0_synth(out/'other_v0', a.other_n, a.seed + 1000, a.workers)
    og_new = None if quick else make_synth(out/'other_new', a.other_n, a.seed + 1000, a.workers, progress=False)
    rows = []
    if a.demo:  # the demo's own model, trained by `ecgv_demo` with its settings
        d = Path(a.demo); prm = json.loads((d/'demo_params.json').read_text()); t0 = time.perf_counter()
        r = dict(variant=f"demo ({d})", seconds_data=0., seconds_train=0.,
                 **score_run(d/'run', d/'data'/'split_test.csv', prm['size'], out/'demo', real, og_v0, a.workers, a.real_only))
        r['seconds_total'] = round(time.perf_counter() - t0, 1)
        if not a.ablate: variants = []
        print(f"demo model: {prm['arch']} ({prm['weights']}), {prm['n']} records, {prm['size']} px, "
              f"{prm['head_epochs']}+{prm['epochs']} epochs, capture {prm.get('capture', 0)}")
        rows.append(r); _print(r)
    for v in variants:
        r = run_variant(v, ABLATIONS[v], rc, out/v, a.seed, a.workers, real, og_new if v == 'v0' else og_v0)
        rows.append(r); _print(r)
    tab = pd.DataFrame([dict(variant=r['variant'], synth_f1=r['test']['f1'], res_f1=r['test_res']['f1'],
                             other_gen_f1=r['other_gen']['f1'], real_acc=r['real']['all']['accuracy'],
                             dev_bal_acc=r['real'].get('dev', r['real']['all'])['balanced_accuracy'], minutes=r['seconds_total']/60) for r in rows])
    print('\n' + tab.round(3).to_string(index=False))
    (out/'results.json').write_text(json.dumps(dict(recipe=a.recipe, params=rc, seed=a.seed, variants=rows), indent=1, default=str))
    print(f"wrote {out/'results.json'}")

if __name__ == '__main__': main()
