#!/usr/bin/env python
"""What `slurm/study.yaml` costs at a scale: chart-epochs per stage and architecture, and GPU-hours and wall time.

For every architecture of the scale, the training cost per chart is measured here (forward + backward at the scale's
chart size, batch `--bs`, on this machine's CPU) and its multiply-accumulates are counted (`model_cost`). The GPU time per
chart is estimated from the MACs: a training step is about 3 x the forward's 2 x MACs floating-point operations, run at
`--tflops` effective (an A100 in bf16 sustains roughly 100 TFLOPS on these convnets; we take 80), but never faster than
`--max_rate` charts per second per GPU (decoding and small kernels bound the small models). The chart-epochs come
from the study file: the search stages' trials x folds x epochs x training charts, then the final runs.

Usage: python bench/study_cost.py [--scale full] [--records 10646] [--gpus 4] [--tflops 80] [--max_rate 3000] [--bs 8] [--no-measure]
"""
import argparse, time
from pathlib import Path
import pandas as pd, torch, yaml

ROOT = Path(__file__).resolve().parents[1]

def grid_points(space:str) -> int:
    "Points of a packaged grid space (head: the product of its lists; grid: the product of its `around` factors)."
    sp = yaml.safe_load((ROOT/'ecg_vision'/'spaces'/f'{space}.yaml').read_text())
    n = 1
    for v in {**(sp.get('params') or {}), **(sp.get('around') or {})}.values(): n *= len(v) if isinstance(v, list) else 1
    return n

def train_ms_per_chart(arch:str, size:int, bs:int, steps:int=2) -> float:
    "Measured milliseconds per chart of a training step (forward + backward) on this machine's CPU."
    from ecg_vision.models import build_model
    m = build_model(arch, 4, weights='none').train(); opt = torch.optim.SGD(m.parameters(), lr=1e-3)
    x, y = torch.randn(bs, 3, size, size), torch.randint(0, 4, (bs,))
    loss = torch.nn.functional.cross_entropy(m(x), y); loss.backward(); opt.step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps): opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
    return 1000*(time.perf_counter() - t)/(steps*bs)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--scale', default='full'); ap.add_argument('--records', type=int, default=10646)
    ap.add_argument('--gpus', type=int, default=4); ap.add_argument('--tflops', type=float, default=80.)
    ap.add_argument('--bs', type=int, default=8); ap.add_argument('--max_rate', type=float, default=3000.); ap.add_argument('--no-measure', action='store_true')
    a = ap.parse_args()
    from ecg_vision.models import build_model, model_cost
    sc = yaml.safe_load((ROOT/'slurm'/'study.yaml').read_text())['scales'][a.scale]
    train_recs = int(a.records*.8*.8)  # 80% train split, 20% of it validation
    per_cfg = {'config1': 1, 'config2': 2}  # charts per record
    head = (sc['head_trials'] or grid_points('head'))*sc['folds']*sc['head_epochs']
    full = sc['trials']*sc['epochs']  # one hold-out split, pruned: an upper bound
    grid = (sc['grid_trials'] or grid_points('grid'))*sc['folds']*sc['epochs']
    rows = []
    for arch in sc['archs']:
        c = model_cost(build_model(arch, 4, weights='none'), sc['size'], reps=2)
        cpu_ms = float('nan') if a.no_measure else train_ms_per_chart(arch, sc['size'], a.bs)
        gpu_s = max(3*2*c['gmacs']*1e9/(a.tflops*1e12), 1/a.max_rate)  # seconds per training chart on the GPU
        for cfg, k in per_cfg.items():
            epochs = head + full + grid + sc['epochs']  # searches, then the final run
            charts = epochs*train_recs*k
            rows.append(dict(arch=arch, config=cfg, gmacs=round(c['gmacs'], 2), cpu_ms_per_chart=round(cpu_ms, 1),
                             chart_epochs_M=round(charts/1e6, 2), gpu_hours=round(charts*gpu_s/3600, 2)))
    df = pd.DataFrame(rows)
    print(f"scale {a.scale}: {len(sc['archs'])} architectures x 2 configs, {a.records} records ({train_recs} training records), "
          f"{sc['size']} px; epochs per run: head {head}, full {full}, grid {grid}, final {sc['epochs']}")
    print(df.to_string(index=False))
    total = df.gpu_hours.sum()
    print(f"total {total:.0f} GPU-hours at {a.tflops:g} effective TFLOPS (at most {a.max_rate:g} charts/s); wall time on {a.gpus} GPUs about {total/a.gpus:.0f} h "
          f"(data loading and evaluation not counted; pruning makes the full stage cheaper)")

if __name__ == '__main__': main()
