"Search stage end to end: concurrent workers on one study, pruning, killed workers, and the head → full → grid chain."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import optuna, pandas as pd, pytest, yaml
from optuna.trial import TrialState
from conftest import run, ROOT
from ecg_vision.search import (load_space, open_storage, open_study, run_worker, search, toy_objective,
                               pruning_callback, write_outputs)

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

@pytest.mark.parametrize('url', ['journal', 'sqlite'])
def test_concurrent_workers_exact(tmp_path, url):
    "3 workers (ecgv_search processes) share one 12-point grid study: 12 trials, each grid point once."
    sp = _space(tmp_path, GRID)
    storage = tmp_path/'s.log' if url == 'journal' else f"sqlite:///{tmp_path/'s.db'}"
    ps = [_worker('--space', sp, '--stage', 'head', '--storage', storage, '--study', 'g', '--out', tmp_path/'out',
                  '--objective', 'toy', '--quiet') for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in ps]
    for p, (o, e) in zip(ps, outs): assert p.returncode == 0, e[-3000:]
    trials = _load(storage, 'g').trials
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

def test_pruning_median(tmp_path):
    "The median pruner stops poor toy trials early; pruned trials count towards n_trials."
    sp = dict(load_space('full'), n_trials=12, pruner_kw={'n_startup_trials': 3, 'n_warmup_steps': 1}, fixed={'epochs': 5})
    r = search(sp, tmp_path/'p.log', 'p', objective='toy', out=tmp_path/'out', progress=False)
    tr = r['study'].trials
    pruned = [t for t in tr if t.state == TrialState.PRUNED]
    assert len(tr) == 12 and pruned and all(len(t.intermediate_values) < 5 for t in pruned)
    assert all(len(t.intermediate_values) == 5 for t in tr if t.state == TrialState.COMPLETE)

def test_pruning_hyperband(tmp_path):
    sp = dict(load_space('full'), n_trials=10, pruner='hyperband', pruner_kw={'min_resource': 1, 'max_resource': 6}, fixed={'epochs': 6})
    r = search(sp, tmp_path/'h.log', 'h', objective='toy', out=tmp_path/'out', progress=False)
    assert len(r['study'].trials) == 10 and any(t.state == TrialState.PRUNED for t in r['study'].trials)

def test_pruning_callback_fastai():
    "The fastai callback reports every epoch of consecutive fits with increasing steps and prunes the trial."
    import torch
    from torch import nn
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    from fastai.metrics import F1Score
    x = torch.randn(48, 4); y = (x[:, 0] > 0).long(); ds = list(zip(x, y))
    dls = DataLoaders.from_dsets(ds[:32], ds[32:], bs=16, device='cpu')
    class PruneAt(optuna.pruners.BasePruner):
        def prune(self, study, trial): return len(trial.intermediate_values) >= 5
    s = optuna.create_study(direction='maximize', pruner=PruneAt())
    t = s.ask(); cb = pruning_callback(t)
    learn = Learner(dls, nn.Linear(4, 2), loss_func=CrossEntropyLossFlat(), metrics=F1Score(average='macro'), cbs=cb)
    with learn.no_bar(), learn.no_logging():
        learn.fit(3, 1e-2)  # fit 1: steps 0, 1, 2
        with pytest.raises(optuna.TrialPruned): learn.fit(3, 1e-2)  # fit 2: steps 3, 4 -> pruned
    assert sorted(s._storage.get_trial(t._trial_id).intermediate_values) == [0, 1, 2, 3, 4]

@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGTERM])
def test_killed_worker_retried(tmp_path, sig):
    "A worker killed mid-trial: its RUNNING trial is failed (at once on SIGTERM, by the next worker on SIGKILL) and retried."
    sp = _space(tmp_path, GRID.replace('sleep: 0.15', 'sleep: 0').replace('[1.0e-4, 1.0e-3, 1.0e-2]', '[1.0e-3]'))
    log = tmp_path/'k.log'
    p = _worker('--space', sp, '--stage', 'head', '--storage', log, '--study', 'k', '--out', tmp_path/'out',
                '--objective', 'test_search:slow_toy', '--quiet', env={'TOY_SLEEP': '60'})
    t0 = time.time()
    while time.time() - t0 < 120:
        try:
            if _load(log, 'k').get_trials(states=(TrialState.RUNNING,)): break
        except KeyError: pass
        time.sleep(0.5)
    else: p.kill(); pytest.fail('no trial started')
    time.sleep(0.5)
    p.send_signal(sig); p.communicate(timeout=60)
    s = _load(log, 'k')
    if sig == signal.SIGTERM: assert [t.system_attrs['fail_reason'] for t in s.get_trials(states=(TrialState.FAIL,))] == ['interrupted']
    else: assert len(s.get_trials(states=(TrialState.RUNNING,))) == 1
    r = search(str(sp), log, 'k', objective=slow_toy, out=tmp_path/'out', progress=False)
    tr = r['study'].trials
    fails = [t for t in tr if t.state == TrialState.FAIL]
    done = [t for t in tr if t.state == TrialState.COMPLETE]
    assert len(fails) == 1 and fails[0].system_attrs['fail_reason'] == ('interrupted' if sig == signal.SIGTERM else 'stale')
    assert len(done) == 4 and sorted(t.system_attrs['ticket'] for t in done) == [0, 1, 2, 3]
    retry = [t for t in done if t.system_attrs.get('retry_of') == fails[0].number]
    assert len(retry) == 1 and retry[0].system_attrs['grid_id'] == fails[0].system_attrs['grid_id']
    assert retry[0].params == fails[0].params

def test_objective_error_is_reported(tmp_path):
    "An objective that raises fails its trial with the message; the worker finishes the other tickets."
    def obj(cfg, trial):
        if cfg['lr'] > 5e-3: raise ValueError('diverged')
        return cfg['lr']
    sp = dict(load_space('head'), params={'lr': [1e-3, 1e-2, 2e-3]}, fixed={})
    r = search(sp, tmp_path/'e.log', 'e', objective=obj, out=tmp_path/'out', progress=False)
    st = sorted((t.params['lr'], t.state.name, t.user_attrs.get('error')) for t in r['study'].trials)
    assert st == [(1e-3, 'COMPLETE', None), (2e-3, 'COMPLETE', None), (1e-2, 'FAIL', 'ValueError: diverged')]
    assert yaml.safe_load((tmp_path/'out'/'best_params.yaml').read_text()) == {'folds': 5, 'lr': 2e-3}

def test_bad_inputs(tmp_path):
    p = run('ecgv_search', '--stage', 'nope', '--objective', 'toy', check=False)
    assert p.returncode != 0 and 'nope' in p.stderr
    p = run('ecgv_search', '--stage', 'head', check=False)
    assert p.returncode != 0 and '--lmdb' in p.stderr
    sp = _space(tmp_path, "sampler: grid\nparams: {learning_rate: [0.1]}\n")
    with pytest.raises(ValueError, match='learning_rate'):
        search(str(sp), tmp_path/'b.log', 'b', lmdb=str(tmp_path), out=tmp_path/'out', progress=False)

def test_chain_head_full_grid(synth_dir, tmp_path):
    "Real (tiny) training: head grid with 2-fold CV → full TPE from the best head → grid around it (via ecgv_search)."
    from ecg_vision.lmdb import render_to_lmdb
    from ecg_vision.train import load_config
    lmdb = render_to_lmdb(synth_dir/'split_train.csv', ['std'], 64, tmp_path/'train.lmdb', progress=False)
    common = dict(arch='mobilenet_v3_small', weights='none', epochs=1, bs=8, patience=0)
    head = dict(load_space('head'), params={'lr': [1e-3, 1e-2]}, fixed={'stage': 'head', **common})
    r = search(head, tmp_path/'head.log', 'head', lmdb=lmdb, folds=2, out=tmp_path/'head', progress=False)
    assert [t.state for t in r['study'].trials] == [TrialState.COMPLETE]*2
    assert all(Path(t.user_attrs['run_dir'], 'fold1', 'model.pth').exists() for t in r['study'].trials)
    full = dict(load_space('full'), n_trials=1, params={'lr': {'low': 1e-4, 'high': 1e-2, 'log': True}})
    r = search(full, tmp_path/'full.log', 'full', base=tmp_path/'head'/'best_params.yaml', lmdb=lmdb, folds=1,
               out=tmp_path/'full', progress=False)
    assert (tmp_path/'full'/'head'/'model.pth').exists()
    t = r['study'].trials[0]
    assert t.state == TrialState.COMPLETE and set(t.intermediate_values) == {0}
    assert json.loads(Path(t.user_attrs['run_dir'], 'params.json').read_text())['stage'] == 'full'
    gs = _space(tmp_path, "stage: grid\nsampler: grid\nfixed: {stage: full}\naround: {lr: [0.5, 2]}\n", 'grid.yaml')
    run('ecgv_search', '--space', gs, '--stage', 'grid', '--lmdb', lmdb, '--storage', tmp_path/'grid.log', '--study', 'grid',
        '--out', tmp_path/'grid', '--folds', 2, '--base', tmp_path/'full'/'best_params.yaml', '--quiet')
    g = _load(tmp_path/'grid.log', 'grid')
    lr = yaml.safe_load((tmp_path/'full'/'best_params.yaml').read_text())['lr']
    assert sorted(t.params['lr'] for t in g.trials) == pytest.approx([lr*0.5, lr*2], rel=1e-5)
    assert all(t.state == TrialState.COMPLETE for t in g.trials)
    cfg = load_config(tmp_path/'grid'/'best_params.yaml')
    assert (cfg.stage, cfg.folds, cfg.weights) == ('full', 2, str(tmp_path/'full'/'head'/'model.pth'))
    s = json.loads((tmp_path/'grid'/'summary.json').read_text())
    assert s['best_params']['lr'] == cfg.lr and Path(s['plots']['history']).exists()
    # importances need the scores to vary; two 1-epoch trials on 19 charts may tie, then the summary says why
    assert Path(s['plots']['importance']).exists() or s['plots']['importance'].startswith('not drawn')
