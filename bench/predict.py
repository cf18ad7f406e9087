#!/usr/bin/env python
"""Throughput of batch prediction on the CPU: one `ecgv_predict` call over many files against one call per file.

Prints files per second for records (WFDB/Chapman, drawn by the renderer) and for chart images (photos and renders
through the image front end), with the run loaded once, and the wall time of a single-file `ecgv_predict` call (what a
shell loop pays per file: imports and loading the run).

Usage: python bench/predict.py [--model RUN] [--records DIR] [--images DIR] [--repeat 3]
       (defaults: `ecg_vision.test_utils.learned_run`, nbs/fixtures/wfdb, ../shared/data/real_images or nbs/fixtures/images)
"""
import argparse, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default=''); ap.add_argument('--records', default=str(ROOT/'nbs'/'fixtures'/'wfdb'))
    shared = ROOT.parent/'shared'/'data'/'real_images'
    ap.add_argument('--images', default=str(shared if shared.is_dir() else ROOT/'nbs'/'fixtures'/'images'))
    ap.add_argument('--repeat', type=int, default=3)
    a = ap.parse_args()
    from ecg_vision.predict import Predictor, find_inputs, predict_files
    from ecg_vision.test_utils import learned_run
    model = a.model or str(learned_run()['run'])
    t = time.perf_counter(); pr = Predictor(model); load = time.perf_counter() - t
    print(f"run loaded once in {load:.1f} s: {pr}")
    for kind, folder in (('record', a.records), ('image', a.images)):
        inputs = [i for i in find_inputs(folder) if i[1] == kind]
        best = float('inf')
        for _ in range(a.repeat):
            t = time.perf_counter(); df = predict_files(inputs, pr, progress=False, report=False); best = min(best, time.perf_counter() - t)
        print(f"{kind:7s}: {len(inputs)} files in {best:.1f} s = {len(inputs)/best:.2f} files/s ({1000*best/len(inputs):.0f} ms/file); "
              f"verdicts {df.verdict.value_counts().to_dict()}")
    f = next((p for p, _ in find_inputs(a.records) if pr(p)['verdict'] in ('ok', 'uncertain')), None)
    t = time.perf_counter()
    subprocess.run(['ecgv_predict', str(f), '--model', model], capture_output=True)
    print(f"one `ecgv_predict FILE` call (imports + loading the run + one file): {time.perf_counter() - t:.1f} s")

if __name__ == '__main__': main()
