"""Data-parallel training for real on CPUs: `ecgv_train` under `torchrun --nproc_per_node 2` (gloo), the commands of
05_callbacks' docs and of `slurm/ddp.sbatch`. Each rank trains on its own shard, rank 0 alone writes the run folder, the
logged validation metrics are those of the saved model on the whole validation split, and a killed run resumes.
"""
import json, os, signal, subprocess, time
from pathlib import Path
import pandas as pd, pytest, torch

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'MPLBACKEND': 'Agg'}
# tiny: 23 charts of 32 px, 16 train / 7 valid (so the valid shards of 2 ranks need a padding chart)
FLAGS = ['--arch', 'mobilenet_v3_small', '--weights', 'none', '--stage', 'full', '--bs', '4', '--lr', '0.01',
         '--patience', '0', '--valid_pct', '0.25', '--device', 'cpu']
TORCHRUN = ['torchrun', '--standalone', '--nproc_per_node', '2', '-m', 'ecg_vision.train']  # as in 05_callbacks' docs


@pytest.fixture(scope='module')
def lmdb(tmp_path_factory):
    from ecg_vision.synth import make_synth
    from ecg_vision.split import make_split
    from ecg_vision.lmdb import render_to_lmdb
    d = tmp_path_factory.mktemp('ddp')
    make_synth(d, n=27, seed=0, progress=False); make_split(d, d, progress=False)
    return render_to_lmdb(d/'split_train.csv', ['std'], 32, d/'train32.lmdb', progress=False)


def _run(cmd, **kw):
    t0 = time.time()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env={**ENV, **kw.pop('env', {})}, timeout=600, **kw)
    assert p.returncode == 0, f"{cmd} -> {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p, time.time() - t0


def _evaluate(run:Path) -> dict:
    "Single-process evaluation of the run's saved model on its validation split (the split fit_run makes)."
    from sklearn.metrics import f1_score
    from ecg_vision.loaders import chart_dls
    from ecg_vision.train import load_run
    model, p = load_run(run)  # paths in params.json are relative to the run folder; load_run resolves them
    dls = chart_dls(p['lmdb'], p['valid_pct'], p['bs'], p['seed'], p['size'] or None, 0, False, None, 'cpu')
    ps, ys = [], []
    with torch.no_grad():
        for xb, yb in dls.valid: ps.append(model(xb).argmax(1)); ys.append(yb)
    y, pr = torch.cat(ys).numpy(), torch.cat(ps).numpy()
    return dict(n=len(y), f1=float(f1_score(y, pr, average='macro')), accuracy=float((y == pr).mean()))


def _best(run:Path) -> pd.Series:
    log = pd.read_csv(run/'log.csv')
    return log.loc[log.f1_score.idxmax()]


def test_ddp_cpu_matches_single_process(lmdb, tmp_path):
    "2 gloo ranks: disjoint shards covering the training split, one run folder, metrics of the saved model, as fast-ish as one."
    single, ddp, trace = tmp_path/'single', tmp_path/'ddp', tmp_path/'trace'
    trace.mkdir()
    _, t1 = _run(['ecgv_train', '--lmdb', lmdb, *FLAGS, '--epochs', 2, '--out', single])
    p, t2 = _run([*TORCHRUN, '--lmdb', lmdb, *FLAGS, '--epochs', 2, '--out', ddp], env={'ECGV_DDP_TRACE': str(trace)})
    assert 'rank 1/2 (gloo, cpu)' in p.stdout and 'rank 0/2 (gloo, cpu)' in p.stdout
    prm = json.loads((ddp/'params.json').read_text())
    assert prm['world_size'] == 2 and prm['device'] == 'cpu' and prm['n_valid'] % 2 == 1
    assert sorted(f.name for f in ddp.iterdir()) == ['calibration.json', 'log.csv', 'model.pth', 'params.json', 'results.json']
    log = pd.read_csv(ddp/'log.csv')
    assert log.epoch.tolist() == [0, 1]  # one writer: each epoch once
    # each rank trained on its own half of every epoch's shuffled order; together they cover the training split
    r0, r1 = ([json.loads(l) for l in (trace/f'rank{r}.jsonl').read_text().splitlines()] for r in (0, 1))
    assert len(r0) == len(r1) == 2
    for a, b in zip(r0, r1):
        assert len(a) == len(b) == (prm['n_train'] + 1)//2
        assert set(a) | set(b) == set(range(prm['n_train'])) and len(set(a) & set(b)) <= 1  # at most one padding chart
    assert r0[0] != r0[1]  # reshuffled each epoch
    # the validation metrics gathered over both ranks are exactly those of the saved model evaluated in one process
    ev, best = _evaluate(ddp), _best(ddp)
    assert ev['n'] == prm['n_valid']
    assert ev['f1'] == pytest.approx(best.f1_score, abs=1e-6) and ev['accuracy'] == pytest.approx(best.accuracy, abs=1e-6)
    assert json.loads((ddp/'results.json').read_text())['best_f1'] == pytest.approx(ev['f1'], abs=1e-6)
    es = _evaluate(single)
    assert es['f1'] == pytest.approx(_best(single).f1_score, abs=1e-6)
    print(f"\nsingle process: {t1:.1f} s, saved model F1 {es['f1']:.3f} acc {es['accuracy']:.3f}; "
          f"2-rank DDP (gloo): {t2:.1f} s, saved model F1 {ev['f1']:.3f} acc {ev['accuracy']:.3f} "
          f"(logged {best.f1_score:.3f} / {best.accuracy:.3f}); {prm['n_train']} train / {prm['n_valid']} valid charts")


def test_ddp_killed_resumes(lmdb, tmp_path):
    "SIGKILL to the whole torchrun group after the first epoch; the same command resumes from rank 0's last.pth."
    out = tmp_path/'run'
    cmd = [*map(str, TORCHRUN), '--lmdb', str(lmdb), *FLAGS, '--epochs', '6', '--out', str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, start_new_session=True)
    t0 = time.time()
    try:  # last.pth is written (atomically) after the epoch's log line: once it exists, an epoch is on disk
        while not (out/'last.pth').exists():
            assert p.poll() is None, 'finished before it could be killed'
            assert time.time() - t0 < 300, 'no epoch finished'
            time.sleep(0.02)
    finally:
        try: os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError: pass
        p.wait()
    assert (out/'last.pth').exists() and not (out/'results.json').exists()
    first = pd.read_csv(out/'log.csv')
    ck = torch.load(out/'last.pth', weights_only=True)
    assert 1 <= ck['epoch'] < 6
    _run(cmd)
    log = pd.read_csv(out/'log.csv')
    assert log.epoch.tolist() == list(range(6))  # nothing lost, nothing twice
    done = first[first.epoch < ck['epoch']]
    pd.testing.assert_frame_equal(log.iloc[:len(done)].drop(columns='time'), done.drop(columns='time'))  # resumed, not restarted
    assert json.loads((out/'results.json').read_text())['epochs_run'] == 6 and not (out/'last.pth').exists()


def test_ddp_sbatch(lmdb, tmp_path, slurm):
    "slurm/ddp.sbatch on the one-node test cluster: srun + torchrun over c10d, 2 gloo ranks, one run folder."
    out, logf = tmp_path/'ddp', tmp_path/'ddp.out'
    p, _ = _run(['sbatch', '--parsable', '--wait', '--nodes', 1, '--cpus-per-task', 2, '--mem', '4G', '--time', '00:10:00',
                 f'--output={logf}', 'slurm/ddp.sbatch', '--lmdb', lmdb, *FLAGS, '--epochs', 1, '--out', out],
                cwd=ROOT, env={'ECGV_NPROC': '2'})
    text = logf.read_text()
    assert 'rendezvous at' in text and 'rank 1/2 (gloo, cpu)' in text, text[-3000:]
    assert json.loads((out/'params.json').read_text())['world_size'] == 2
    assert pd.read_csv(out/'log.csv').epoch.tolist() == [0] and (out/'model.pth').exists()
