"""The project's first synthetic generator (ecg_vision.synth at commit 35cfdeb), frozen: sim2real's "different generator"."""


from __future__ import annotations
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from fastcore.script import call_parse
from fastprogress.fastprogress import progress_bar

from ecg_vision.data import LEADS, FS, RHYTHM_TO_CLASS, CLASSES

__all__ = ['DOWER', 'WAVES', 'RHYTHMS', 'SYNTH_RHYTHMS', 'CLASS_RHYTHMS', 'limb_leads', 'beat_times', 'synth_record',
           'synth_plan', 'make_synth', 'ecgv_synth']

# Dower et al. (1980): rows I, II, V1..V6; columns Frank X, Y, Z
DOWER = np.array([[0.632, -0.235, 0.059], [0.235, 1.066, -0.132], [-0.515, 0.157, -0.917], [0.044, 0.164, -1.387],
                  [0.882, 0.098, -1.277], [1.213, 0.127, -0.601], [1.125, 0.127, -0.086], [0.831, 0.076, 0.230]], np.float32)

def limb_leads(i:np.ndarray, # lead I
               ii:np.ndarray, # lead II
              ) -> np.ndarray: # (6, n): I, II, III, aVR, aVL, aVF
    "The six limb leads from I and II (Einthoven and Goldberger)."
    return np.stack([i, ii, ii - i, -(i + ii)/2, i - ii/2, ii - i/2])

# wave: (offset from R in s, width sigma in s, direction X, Y, Z scaled in mV)
WAVES = dict(P=(-0.16, 0.022, (0.05, 0.15, 0.03)), Q=(-0.028, 0.009, (-0.10, -0.05, 0.05)),
             R=(0.0, 0.011, (0.95, 0.85, -0.45)), S=(0.03, 0.012, (-0.12, -0.20, 0.55)),
             T=(None, 0.045, (0.22, 0.25, -0.08)))

def _rotation(rng, axis_deg):
    "A random small 3-D rotation whose frontal-plane part turns the electrical axis by `axis_deg`."
    a, b, c = np.deg2rad([axis_deg, rng.normal(0, 10), rng.normal(0, 10)])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    return rz @ rx @ ry

def _add_waves(vcg, t, centres, sigma, direction):
    "Add one Gaussian wave per centre into vcg (3, n), evaluating only +-5 sigma around each centre."
    half = int(5*sigma*FS) + 1
    offs = np.arange(-half, half + 1)
    idx = np.round(centres*FS).astype(int)[:, None] + offs
    g = np.exp(-0.5*((idx/FS - centres[:, None])/sigma)**2)
    ok = (idx >= 0) & (idx < vcg.shape[1])
    np.add.at(vcg, (slice(None), idx[ok]), direction[:, None]*g[ok][None])

# rhythm: (rate range in bpm, RR variability (sd/mean), P wave: 'sinus' | 'ectopic' | 'retro' | None, atrial activity)
RHYTHMS = dict(SR=((62, 98), 0.02, 'sinus', None), SI=((62, 95), 0.0, 'sinus', None),
               SB=((38, 57), 0.02, 'sinus', None), ST=((105, 160), 0.015, 'sinus', None),
               SVT=((150, 220), 0.01, 'retro', None), AT=((105, 180), 0.02, 'ectopic', None),
               AFIB=((60, 150), 0.22, None, 'fib'), AF=((70, 150), 0.0, None, 'flutter'))
SYNTH_RHYTHMS = list(RHYTHMS)

def beat_times(rhythm:str, # a key of RHYTHMS
               rng:np.random.Generator, # random generator
               seconds:float=10., # record length
              ) -> tuple[np.ndarray, float]: # (R-peak times in s, atrial rate in Hz for flutter)
    "R-peak times for one record of a rhythm."
    (lo, hi), cv, _, atrial = RHYTHMS[rhythm]
    rr0 = 60/rng.uniform(lo, hi)
    fl = rng.uniform(4.2, 5.6)  # flutter waves per second
    n = int(seconds/0.25) + 4
    if rhythm == 'AFIB': rr = rng.gamma(1/cv**2, rr0*cv**2, n).clip(0.28, None)
    elif rhythm == 'AF': rr = rng.choice([2, 2, 3, 4], n)/fl          # variable block
    elif rhythm == 'SI': rr = rr0*(1 + rng.uniform(0.05, 0.09)*np.sin(2*np.pi*np.arange(n)*rr0/rng.uniform(3.5, 5.5) + rng.uniform(0, 6.3)))
    else: rr = rr0*(1 + cv*rng.standard_normal(n))
    t = rng.uniform(0.05, rr[0]) + np.concatenate([[0], np.cumsum(rr[:-1])])
    return t[t < seconds - 0.05], fl

def _atrial(rhythm, n, rng, fl):
    "Atrial baseline activity (3, n) in mV for fibrillation or flutter; zeros otherwise."
    t = np.arange(n)/FS
    kind = RHYTHMS[rhythm][3]
    if kind == 'fib':
        f = sum(rng.uniform(0.5, 1)*np.sin(2*np.pi*rng.uniform(4, 9)*t + rng.uniform(0, 6.3)) for _ in range(4))
        f = f/4*rng.uniform(0.05, 0.15)*(1 + 0.3*np.sin(2*np.pi*rng.uniform(0.1, 0.5)*t))
        d = np.array([-0.35, 0.3, -0.9])
    elif kind == 'flutter':
        ph = (t*fl + rng.uniform()) % 1
        f = rng.uniform(0.1, 0.2)*np.where(ph < 0.8, ph/0.8, (1 - ph)/0.2)
        f -= f.mean(); d = np.array([0.1, -1., -0.3])
    else: return np.zeros((3, n))
    return d[:, None]*f[None]

def synth_record(rhythm:str='SR', # granular rhythm: SR, SI, SB, ST, SVT, AT, AFIB or AF
                 seed:int|np.random.Generator=0, # seed or generator
                 seconds:float=10., # duration in seconds
                ) -> np.ndarray: # float32 (12, seconds*500) in mV, leads in LEADS order
    "One synthetic 12-lead ECG of a rhythm."
    if rhythm not in RHYTHMS: raise ValueError(f"unknown synthetic rhythm {rhythm!r}; choose from {', '.join(RHYTHMS)}")
    rng = np.random.default_rng(seed)
    n = int(seconds*FS)
    rot = _rotation(rng, rng.normal(0, 25))*rng.uniform(0.6, 1.5)
    qrs_w = rng.uniform(0.85, 1.35)
    beats, fl = beat_times(rhythm, rng, seconds)
    rr = np.diff(beats, append=beats[-1] + np.diff(beats[-2:]) if len(beats) > 1 else 1.)
    vcg = np.zeros((3, n))
    pkind = RHYTHMS[rhythm][2]
    for w, (off, sig, d) in WAVES.items():
        d = rot @ np.array(d)
        if w == 'P':
            if pkind is None: continue
            if pkind == 'ectopic': d = rot @ np.array([0.05, -0.13, 0.05])
            if pkind == 'retro': off, d = 0.09, rot @ np.array([0.0, -0.08, 0.02])
            centres = beats + off*(0.9 + 0.2*rng.random())
        elif w == 'T': centres = beats + 0.4*np.sqrt(np.clip(rr, 0.3, 2.0)) - 0.1
        else: centres, sig = beats + off*qrs_w, sig*qrs_w
        _add_waves(vcg, None, centres, sig, d)
    vcg += _atrial(rhythm, n, rng, fl)
    ecg = DOWER.astype(np.float64) @ vcg                        # I, II, V1..V6
    t = np.arange(n)/FS
    ecg += rng.uniform(0.005, 0.025)*rng.standard_normal((8, n))
    ecg += rng.uniform(0, 0.02)*np.sin(2*np.pi*rng.choice([50, 60])*t + rng.uniform(0, 6.3, (8, 1)))
    ecg += rng.uniform(0.02, 0.25, (8, 1))*np.sin(2*np.pi*rng.uniform(0.1, 0.45, (8, 1))*t + rng.uniform(0, 6.3, (8, 1)))
    return np.concatenate([limb_leads(ecg[0], ecg[1]), ecg[2:]]).astype(np.float32)

CLASS_RHYTHMS = dict(AFIB=['AFIB', 'AFIB', 'AF'], GSVT=['ST', 'SVT', 'AT'], SB=['SB'], SR=['SR', 'SR', 'SI'])

def _write_one(args):
    "Generate and write one record; returns its id."
    out, rid, rhythm, seed = args
    x = synth_record(rhythm, seed).T*1000                        # µV, (5000, 12) as in the release
    (Path(out)/f'{rid}.csv').write_text(('%.3f,'*11 + '%.3f\n')*len(x) % tuple(x.ravel()))  # 3x faster than savetxt
    return rid

def synth_plan(n:int=400, # number of records
               seed:int=0, # random seed
              ) -> pd.DataFrame: # FileName, Rhythm, seed
    "Which rhythm and seed each synthetic record gets."
    rng = np.random.default_rng(seed)
    rhythms = [CLASS_RHYTHMS[CLASSES[i % 4]][(i//4) % len(CLASS_RHYTHMS[CLASSES[i % 4]])] for i in range(n)]
    return pd.DataFrame(dict(FileName=[f'SYN_{seed:04d}_{i:06d}' for i in range(n)], Rhythm=rhythms,
                             seed=rng.integers(0, 2**31, n)))

def make_synth(out:str|Path, # output folder
               n:int=400, # number of records
               seed:int=0, # random seed
               workers:int|None=None, # processes (default: all cores)
               progress:bool=True, # show a progress bar
              ) -> Path: # the output folder
    "Write a synthetic dataset in the Chapman-Shaoxing layout."
    out = Path(out); (out/'ECGDataDenoised').mkdir(parents=True, exist_ok=True)
    plan = synth_plan(n, seed)
    args = [(out/'ECGDataDenoised', f, r, int(s)) for f, r, s in zip(plan.FileName, plan.Rhythm, plan.seed)]
    workers = min(workers or os.cpu_count() or 1, max(n, 1))
    with ProcessPoolExecutor(workers) as ex:
        it = ex.map(_write_one, args, chunksize=max(1, n//(workers*8)))
        for _ in (progress_bar(it, total=n) if progress else it): pass
    plan[['FileName', 'Rhythm']].to_csv(out/'Diagnostics.csv', index=False)
    return out

@call_parse
def ecgv_synth(out:str='synth', # output folder
               n:int=400, # number of records
               seed:int=0, # random seed
               workers:int=None, # processes (default: all cores)
              ):
    "Write a synthetic labelled 12-lead ECG dataset in the Chapman-Shaoxing layout."
    d = make_synth(out, n, seed, workers)
    print(f"wrote {n} records to {d/'ECGDataDenoised'} and labels to {d/'Diagnostics.csv'}")
