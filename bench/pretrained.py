"""Does ImageNet pretraining help on ECG charts? Head-only training on a pretrained vs a random backbone, then full
fine-tuning from the head stage (discriminative learning rates), and the demo's choice: a pretrained timm model
(head, then full) vs resnet18 from scratch at the demo's size. Prints test macro-F1 with 95% bootstrap CIs
(over records), and seconds per epoch on this machine: wall clock, and CPU seconds of the process (all its threads;
on a shared machine the CPU figure is the fairer one, on 2 free cores wall time is about CPU/2).

    python bench/pretrained.py                                  # head-only: pretrained vs random lite0, then full
    python bench/pretrained.py --demo                           # + lite0 pretrained vs resnet18 scratch, demo size
    python bench/pretrained.py --n 600 --size 128 --demo        # the demo's data (slow on 2 cores)

Every run uses the normalisation its weights expect (`arch_spec(arch).mean/.std`: 0.5/0.5 for EfficientNet-Lite).
"""
import json, tempfile, time
from dataclasses import replace
from pathlib import Path
import numpy as np, torch
from fastcore.script import call_parse

def make_lmdbs(out:Path, n:int=120, size:int=64, layouts=('std',), seed:int=0) -> dict:
    "Synthetic records, split by record, rendered into train.lmdb and test.lmdb under `out`."
    from ecg_vision.synth import make_synth
    from ecg_vision.split import make_split
    from ecg_vision.lmdb import render_to_lmdb
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    if not (out/'test.lmdb').exists():
        make_synth(out/'data', n=n, seed=seed, workers=1, progress=False)
        split = make_split(out/'data', out/'data', seed=seed, workers=1, progress=False)
        for s in ('train', 'test'): render_to_lmdb(split[s], list(layouts), size, out/f'{s}.lmdb', progress=False)
    return dict(train=out/'train.lmdb', test=out/'test.lmdb')

def test_f1(arch:str, model_file:Path, test_lmdb:Path, n_boot:int=1000) -> dict:
    "Test macro-F1 (95% CI over records) of a saved model, normalised as its architecture expects."
    from ecg_vision.models import arch_spec, build_model
    from ecg_vision.loaders import test_dl
    from ecg_vision.metrics import preds_frame, preds_metrics
    spec = arch_spec(arch)
    model = build_model(arch, 4, model_file).eval()
    dl = test_dl(test_lmdb, bs=64, device='cpu', stats=(spec.mean, spec.std))
    with torch.no_grad(): probs = torch.cat([model(xb.as_subclass(torch.Tensor)).softmax(1) for xb, *_ in dl]).numpy()
    idx, classes = dl.dataset.index, list(dl.dataset.classes)
    m = preds_metrics(preds_frame(idx.record_id, idx.layout, idx.y, probs, classes), classes, n_boot=n_boot)
    return dict(f1=round(float(m.values['f1']), 3), ci=tuple(round(v, 3) for v in m.ci.get('f1', (np.nan, np.nan))))

def run_stage(arch:str, weights:str, stage:str, lmdbs:dict, out:Path, epochs:int, lr:float, bs:int=32, seed:int=0,
              start:Path|None=None, n_boot:int=1000, lr_mult:float=10.) -> dict:
    "Train one stage with `ecg_vision.train.fit_stage` (weights `start` if given) and score it on the test LMDB."
    from ecg_vision.models import arch_spec
    from ecg_vision.loaders import chart_dls
    from ecg_vision.train import TrainConfig, fit_stage
    from fastai.torch_core import set_seed
    spec, out = arch_spec(arch), Path(out); out.mkdir(parents=True, exist_ok=True)
    for f in ('log.csv', 'last.pth', 'model.pth'): (out/f).unlink(missing_ok=True)
    cfg = TrainConfig(lmdb=str(lmdbs['train']), arch=arch, weights=weights, stage=stage, epochs=epochs, lr=lr, bs=bs,
                      patience=0, device='cpu', seed=seed, out=str(out))
    set_seed(seed)
    dls = chart_dls(cfg.lmdb, cfg.valid_pct, bs, seed, None, 0, False, None, 'cpu', stats=(spec.mean, spec.std))
    t, c = time.perf_counter(), time.process_time()
    best = fit_stage(cfg, dls, stage, out, 4, start or weights, epochs, lr, lr_mult=lr_mult)
    sec, cpu = (time.perf_counter() - t)/epochs, (time.process_time() - c)/epochs
    return dict(arch=arch, weights=weights, stage=stage, epochs=epochs, lr=lr, valid_f1=round(best, 3),
                **test_f1(arch, out/'model.pth', lmdbs['test'], n_boot), s_per_epoch=round(sec, 1), cpu_s_per_epoch=round(cpu, 1), model=str(out/'model.pth'))

def head_comparison(lmdbs:dict, out:Path, arch:str='tf_efficientnet_lite0', epochs:int=3, lr:float=1e-2, bs:int=8,
                    seed:int=0, n_boot:int=1000, weights=('imagenet', 'none')) -> dict:
    "Head-only training on the pretrained and on a random backbone of `arch`."
    return {w: run_stage(arch, w, 'head', lmdbs, Path(out)/f'head_{w}', epochs, lr, bs, seed, n_boot=n_boot) for w in weights}

def _row(r): return f"{r['arch']:<22} {r['weights']:<9} {r['stage']:<5} {r['epochs']:>3} ep  valid F1 {r['valid_f1']:.3f}  " \
                    f"test F1 {r['f1']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]  {r['s_per_epoch']:6.1f} s/epoch ({r['cpu_s_per_epoch']:.1f} CPU s)"

@call_parse
def main(n:int=120,           # synthetic records (80% train, 20% test)
         size:int=64,         # chart size in pixels
         arch:str='tf_efficientnet_lite0',  # pretrained architecture
         head_epochs:int=3,   # epochs of the head-only stage
         full_epochs:int=3,   # epochs of the full fine-tuning stage
         head_lr:float=1e-2,  # learning rate of the head stage
         lr:float=3e-3,       # learning rate of the full stage (the head's; the backbone gets lr/lr_mult)
         lr_mult:float=10.,   # discriminative ratio head lr / backbone lr in the full stage
         bs:int=32,           # batch size of the full stages
         head_bs:int=8,       # batch size of the head stage (more steps for the small head)
         skip_random:bool=False,  # skip head-only on the random backbone (demo timing only)
         seed:int=0,          # data and training seed
         demo:bool=False,     # also: `arch` pretrained (head+full) vs resnet18 from scratch, `demo_epochs` epochs
         demo_epochs:int=10,  # resnet18 scratch epochs (the demo's default); pretrained gets head_epochs + full epochs to match
         out:str='',          # working folder (default: a temporary one)
        ):
    "Print head-only pretrained vs random, full fine-tuning from the head, and optionally the demo comparison."
    from fastcore.basics import defaults
    from fastai.callback.progress import ProgressCallback
    defaults.callbacks = [c for c in defaults.callbacks if c is not ProgressCallback]  # figures only, no bars
    out = Path(out or tempfile.mkdtemp(prefix='ecgv_pretrained_'))
    lmdbs = make_lmdbs(out, n, size, seed=seed)
    print(f"data: {n} synthetic records, {size} px, in {out}; torch threads {torch.get_num_threads()}", flush=True)
    res = head_comparison(lmdbs, out, arch, head_epochs, head_lr, head_bs, seed, weights=('imagenet',) if skip_random else ('imagenet', 'none'))
    for r in res.values(): print(_row(r), flush=True)
    if not skip_random:
        print(f"head-only margin (pretrained - random): {res['imagenet']['f1'] - res['none']['f1']:+.3f} test macro-F1", flush=True)
    full = run_stage(arch, 'imagenet', 'full', lmdbs, out/'full', full_epochs, lr, bs, seed, Path(res['imagenet']['model']),
                     lr_mult=lr_mult)
    print(_row(full), '(from the head stage, backbone lr', f"{lr/lr_mult:.1e})", flush=True)
    rows = dict(head=res, full=full)
    if demo:
        fe = max(1, demo_epochs - head_epochs)
        pf = full if fe == full_epochs else run_stage(arch, 'imagenet', 'full', lmdbs, out/'demo_full', fe, lr, bs, seed,
                                                       Path(res['imagenet']['model']), lr_mult=lr_mult)
        rn = run_stage('resnet18', 'none', 'full', lmdbs, out/'demo_resnet18', demo_epochs, lr, bs, seed)
        print(f"demo: {arch} pretrained, {head_epochs} head + {fe} full epochs vs resnet18 scratch, {demo_epochs} epochs")
        for r in (res['imagenet'], pf, rn): print(_row(r), flush=True)
        rows['demo'] = dict(pretrained_full=pf, resnet18=rn)
    (out/'pretrained.json').write_text(json.dumps(rows, indent=1, default=str))
    print(f"figures in {out/'pretrained.json'}")
