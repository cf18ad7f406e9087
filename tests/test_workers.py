"Many workers on one study: exact trial counts from concurrent processes (journal, SQLite, PostgreSQL), killed workers retried."
import json, os, signal, subprocess, time, uuid
from pathlib import Path
import optuna, pytest
from optuna.trial import TrialState
from ecg_vision.workers import open_storage
from ecg_vision.search import search, toy_objective
from test_pg_search import pg_url  # skips (or fails under ECGV_REQUIRE_PG) without a PostgreSQL server

optuna.logging.set_verbosity(optuna.logging.WARNING)
HERE = Path(__file__).resolve().parent
ENV = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONPATH': os.pathsep.join([str(HERE), os.environ.get('PYTHONPATH', '')])}

def slow_toy(cfg, trial=None):
    "The toy objective, but each step sleeps TOY_SLEEP seconds (so a test can kill the worker mid-trial)."
    time.sleep(float(os.environ.get('TOY_SLEEP', 0)))
    return toy_objective(cfg, trial)

def _space(d, text, name='space.yaml'):
    f = d/name; f.write_text(text); return f

def _worker(*args, env=None):
    return subprocess.Popen(['ecgv_search', *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**ENV, **(env or {})})

def _load(storage, name): return optuna.load_study(storage=open_storage(storage), study_name=name)

GRID = """stage: head
sampler: grid
fixed: {epochs: 2, sleep: 0.15}
params:
  lr: [1.0e-4, 1.0e-3, 3.0e-3, 1.0e-2]
  wd: [1.0e-4, 1.0e-3, 1.0e-2]
"""

def _storage(kind, tmp_path, name):
    "A fresh storage URL of `kind` and a study name unused in it (a PostgreSQL database outlives the test)."
    if kind == 'postgresql': return pg_url(), f'{name}-{uuid.uuid4().hex[:8]}'
    return (tmp_path/f'{name}.log' if kind == 'journal' else f"sqlite:///{tmp_path/(name + '.db')}"), name

@pytest.mark.parametrize('url', ['journal', 'sqlite', 'postgresql'])
def test_concurrent_workers_exact(tmp_path, url):
    "3 workers (ecgv_search processes) share one 12-point grid study: 12 trials, each grid point once."
    sp = _space(tmp_path, GRID)
    storage, name = _storage(url, tmp_path, 'g')
    ps = [_worker('--space', sp, '--stage', 'head', '--storage', storage, '--study', name, '--out', tmp_path/'out',
                  '--objective', 'toy', '--quiet') for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in ps]
    for p, (o, e) in zip(ps, outs): assert p.returncode == 0, e[-3000:]
    trials = _load(storage, name).trials
    assert len(trials) == 12 and {t.state for t in trials} == {TrialState.COMPLETE}
    assert len({t.system_attrs['grid_id'] for t in trials}) == 12
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 12
    assert sorted(t.system_attrs['ticket'] for t in trials) == list(range(12))
    ran = [int(o.split('ran ')[1].split()[0]) for o, _ in outs]
    assert sum(ran) == 12, ran
    assert len({t.user_attrs['worker'] for t in trials}) >= 2  # the work was really shared
    s = json.loads((tmp_path/'out'/'summary.json').read_text())
    assert s['states']['COMPLETE'] == 12 and s['tickets_left'] == 0
    assert (tmp_path/'out'/'best_params.yaml').exists() and (tmp_path/'out'/'history.png').exists()

def test_tpe_workers_exact(tmp_path):
    "2 TPE workers on a journal file run exactly n_trials trials, with different proposals."
    sp = _space(tmp_path, "stage: full\nsampler: tpe\nfixed: {epochs: 2, sleep: 0.1}\n"
                          "params:\n  lr: {low: 1.0e-5, high: 1.0e-1, log: true}\n  opt: [adamw, sgd]\n")
    ps = [_worker('--space', sp, '--stage', 'full', '--storage', tmp_path/'t.log', '--study', 't', '--n_trials', 7,
                  '--out', tmp_path/'out', '--objective', 'toy', '--quiet') for _ in range(2)]
    for p in ps: o, e = p.communicate(timeout=300); assert p.returncode == 0, e[-3000:]
    trials = _load(tmp_path/'t.log', 't').trials
    assert len(trials) == 7 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.params['lr'] for t in trials}) == 7

@pytest.mark.parametrize('sig,kind', [(signal.SIGKILL, 'journal'), (signal.SIGTERM, 'journal'), (signal.SIGKILL, 'postgresql')])
def test_killed_worker_retried(tmp_path, sig, kind):
    "A worker killed mid-trial: its RUNNING trial is failed (at once on SIGTERM, by the next worker on SIGKILL) and retried."
    sp = _space(tmp_path, GRID.replace('sleep: 0.15', 'sleep: 0').replace('[1.0e-4, 1.0e-3, 1.0e-2]', '[1.0e-3]'))
    log, name = _storage(kind, tmp_path, 'k')
    hb = ['--heartbeat', 1, '--stale_after', 3] if kind == 'postgresql' else []  # Optuna's grace period, shortened
    p = _worker('--space', sp, '--stage', 'head', '--storage', log, '--study', name, '--out', tmp_path/'out',
                '--objective', 'test_workers:slow_toy', '--quiet', *hb, env={'TOY_SLEEP': '60'})
    t0 = time.time()
    while time.time() - t0 < 120:
        try:
            if _load(log, name).get_trials(states=(TrialState.RUNNING,)): break
        except KeyError: pass
        time.sleep(0.5)
    else: p.kill(); pytest.fail('no trial started')
    time.sleep(0.5)
    p.send_signal(sig); p.communicate(timeout=60)
    s = _load(log, name)
    if sig == signal.SIGTERM: assert [t.system_attrs['fail_reason'] for t in s.get_trials(states=(TrialState.FAIL,))] == ['interrupted']
    else: assert len(s.get_trials(states=(TrialState.RUNNING,))) == 1
    kw = dict(heartbeat=1, stale_after=3, linger=True) if kind == 'postgresql' else {}
    r = search(str(sp), log, name, objective=slow_toy, out=tmp_path/'out', progress=False, **kw)
    tr = r['study'].trials
    fails = [t for t in tr if t.state == TrialState.FAIL]
    done = [t for t in tr if t.state == TrialState.COMPLETE]
    reason = {signal.SIGTERM: 'interrupted', signal.SIGKILL: 'stale'}[sig] if kind == 'journal' else None  # Optuna's check sets none
    assert len(fails) == 1 and fails[0].system_attrs.get('fail_reason') == reason
    assert len(done) == 4 and sorted(t.system_attrs['ticket'] for t in done) == [0, 1, 2, 3]
    retry = [t for t in done if t.system_attrs.get('failed_trial') == fails[0].number]
    assert len(retry) == 1 and retry[0].system_attrs['grid_id'] == fails[0].system_attrs['grid_id']
    assert retry[0].params == fails[0].params and retry[0].system_attrs['retry_history'] == [fails[0].number]
