"""Signals beside charts, as a user types it: one split packed both ways (`ecgv_pack`, `ecgv_pack --signals`), an image
model and a 1-D model trained on it (`ecgv_train`), both scored with bootstrap CIs (`ecgv_eval`) and reported side by side
with their costs (`ecgv_report`); the signal pack command's variants and its one-line refusals."""
import json, os, shutil, subprocess
from pathlib import Path
import lmdb, pandas as pd, pytest

NOISE = ('Traceback', 'FutureWarning')

def sh(*args, cwd:Path, code:int=0) -> str:
    "Run one console command in `cwd`; it must exit with `code` and print no traceback. Returns stdout + stderr."
    p = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900, env={**os.environ, 'MPLBACKEND': 'Agg'})
    out = p.stdout + p.stderr
    assert p.returncode == code, f"$ {' '.join(map(str, args))}\n-> exit {p.returncode} (expected {code})\n{out[-4000:]}"
    assert not [n for n in NOISE if n in out], f"$ {' '.join(map(str, args))}\nprinted noise:\n{out[-4000:]}"
    return out


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "A synthetic dataset (40 records) split by record, through the commands."
    w = tmp_path_factory.mktemp('signals')
    sh('ecgv_synth', '--out', 'synth', '--n', 40, '--seed', 3, '--workers', 1, cwd=w)
    sh('ecgv_split', '--data', 'synth', '--out', 'split', '--seed', 5, '--test_size', 0.3, '--workers', 1, cwd=w)
    return w


def test_pack_signals_command(work):
    "--signals packs, resumes, verifies (and names a corrupted key), refuses --images with it; --verify reads charts too."
    out = sh('ecgv_pack', '--signals', '--meta', 'split/split_test.csv', '--out', 'sig.lmdb', '--length', 4000, '--workers', 2, cwd=work)
    n = len(pd.read_csv(work/'split'/'split_test.csv'))
    assert f"wrote {n} signals ({n} new)" in out, out
    assert '(0 new)' in sh('ecgv_pack', '--signals', '--meta', 'split/split_test.csv', '--out', 'sig.lmdb', '--length', 4000, cwd=work)
    assert f"{n} signal entries, 0 bad" in sh('ecgv_pack', '--verify', 'sig.lmdb', cwd=work)
    bad = shutil.copytree(work/'sig.lmdb', work/'sig_bad.lmdb')
    env = lmdb.open(str(bad))
    with env.begin(write=True) as txn:
        k = next(k for k, _ in txn.cursor() if not k.startswith(b'__')); v = bytearray(txn.get(k)); v[-5] ^= 0xFF; txn.put(k, bytes(v))
    env.close()
    out = sh('ecgv_pack', '--verify', 'sig_bad.lmdb', cwd=work, code=1)
    assert f"BAD {k.decode()}: checksum mismatch" in out and '1 bad' in out, out
    out = sh('ecgv_pack', '--signals', '--meta', 'split/split_test.csv', '--out', 'sig.lmdb', '--length', 2000, cwd=work, code=2)
    assert 'sig.lmdb: holds a different pack' in out and len(out.strip().splitlines()) == 1, out
    assert 'give one' in sh('ecgv_pack', '--signals', '--images', 'x', '--meta', 'split/split_test.csv', '--out', 'y.lmdb', cwd=work, code=1)
    sh('ecgv_pack', '--meta', 'split/split_test.csv', '--out', 'charts.lmdb', '--size', 32, cwd=work)
    assert f"{n} chart entries, 0 bad" in sh('ecgv_pack', '--verify', 'charts.lmdb', cwd=work)


def test_image_and_signal_models_side_by_side(work):
    "The same split as charts and as signals; both models trained, evaluated with CIs and reported with their costs."
    for split in ('train', 'test'):
        sh('ecgv_pack', '--meta', f'split/split_{split}.csv', '--out', f'{split}.lmdb', '--size', 48, cwd=work)
        sh('ecgv_pack', '--signals', '--meta', f'split/split_{split}.csv', '--out', f'{split}_signals.lmdb', cwd=work)
    sh('ecgv_train', '--lmdb', 'train.lmdb', '--arch', 'mobilenet_v3_small', '--weights', 'none', '--stage', 'full', '--epochs', 1,
       '--bs', 8, '--seed', 1, '--out', 'runs/image', cwd=work)
    sh('ecgv_train', '--lmdb', 'train_signals.lmdb', '--arch', 'tiny1d', '--weights', 'none', '--stage', 'full', '--epochs', 3,
       '--bs', 8, '--lr', 3e-3, '--aug', '--seed', 1, '--out', 'runs/signal', cwd=work)
    p = json.loads((work/'runs'/'signal'/'params.json').read_text())
    assert (p['kind'], len(p['mean']), len(p['std']), p['input_size']) == ('signal', 12, 12, [12, 5000]), p
    assert (work/'runs'/'signal'/'calibration.json').is_file()
    for run, lm in (('image', 'test.lmdb'), ('signal', 'test_signals.lmdb')):
        out = sh('ecgv_eval', '--model', f'runs/{run}', '--lmdb', lm, '--out', f'runs/{run}/eval', '--n_boot', 50, cwd=work)
        assert 'calibration (temperature' in out, out
    m = json.loads((work/'runs'/'signal'/'eval'/'metrics.json').read_text())
    assert m['config'] == 'signal' and m['n'] == len(pd.read_csv(work/'split'/'split_test.csv')) and len(m['ci']['f1']) == 2, m
    assert m['cost']['size'] == [12, 5000] and m['cost']['params'] < 30_000, m['cost']
    # the classical baseline on the same split: trained on synthetic records of its own, scored the same way
    sh('ecgv_rhythm', '--out', 'runs/rhythm/rhythm.json', '--n', 80, '--n_estimators', 20, '--seed', 3, '--workers', 1, cwd=work)
    out = sh('ecgv_eval', '--model', 'runs/rhythm/rhythm.json', '--lmdb', 'test_signals.lmdb', '--out', 'runs/rhythm/eval', '--n_boot', 50, cwd=work)
    assert 'calibration (temperature 1.00' in out and len(pd.read_csv(work/'runs/rhythm/eval/predictions.csv')) == m['n'], out

    out = sh('ecgv_report', 'runs', '--out', 'report', cwd=work)
    sm = pd.read_csv(work/'report'/'summary.csv').set_index('arch')
    assert sm.loc[['mobilenet_v3_small', 'tiny1d', 'rhythm_gbm'], 'input'].tolist() == ['chart', 'signal', 'signal'], sm
    for c in ('f1_mean', 'f1_lo', 'f1_hi', 'params', 'gmacs', 'state_dict_mb', 'latency_ms'): assert sm[c].notna().all(), (c, sm[c])
    assert (sm.f1_lo <= sm.f1_mean).all() and (sm.f1_mean <= sm.f1_hi).all(), sm[['f1_lo', 'f1_mean', 'f1_hi']]
    assert sm.loc['tiny1d', 'params'] < sm.loc['mobilenet_v3_small', 'params']/10  # (MACs: a 48 px chart is cheaper than 10 s of signal)
    rows = [l for l in out.splitlines() if l.startswith(('| mobilenet_v3_small', '| tiny1d', '| rhythm_gbm'))]
    assert len(rows) == 3 and '| signal | signal |' in next(l for l in rows if 'tiny1d' in l), out
    assert (work/'report'/'f1_vs_cost.png').is_file()

    # a run meets only the input it reads: one line each, exit 2
    out = sh('ecgv_eval', '--model', 'runs/signal', '--lmdb', 'test.lmdb', '--out', 'x', cwd=work, code=2)
    assert 'holds charts, but the run runs/signal reads signals' in out and len(out.strip().splitlines()) == 1, out
    out = sh('ecgv_train', '--lmdb', 'train_signals.lmdb', '--arch', 'resnet18', '--weights', 'none', '--out', 'runs/bad', cwd=work, code=2)
    assert "holds signals, but arch 'resnet18' reads charts" in out and len(out.strip().splitlines()) == 1, out
    out = sh('ecgv_train', '--lmdb', 'train_signals.lmdb', '--arch', 'tiny1d', '--out', 'runs/bad2', cwd=work, code=2)
    assert "no ImageNet weights" in out and len(out.strip().splitlines()) == 1, out

    # per-lead attribution of the signal run
    sh('ecgv_explain', '--model', 'runs/signal', '--lmdb', 'test_signals.lmdb', '--out', 'explain', '--n', 2, '--device', 'cpu', cwd=work)
    leads = pd.read_csv(work/'explain'/'lead_attribution.csv')
    assert set(leads.method) == {'ig', 'occlusion'} and len(list((work/'explain'/'overlays').glob('*.png'))) == 2
