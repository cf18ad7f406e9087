"Search stage end to end: pruning, objective errors, bad inputs, and the head → full → grid chain (concurrent workers: test_workers.py)."
import json
from pathlib import Path
import optuna, pytest, yaml
from optuna.trial import TrialState
from conftest import run
from ecg_vision.search import load_space, open_storage, search, pruning_callback

optuna.logging.set_verbosity(optuna.logging.WARNING)

def _space(d, text, name='space.yaml'):
    f = d/name; f.write_text(text); return f

def _load(storage, name): return optuna.load_study(storage=open_storage(storage), study_name=name)  # open_storage re-exported by search

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

def test_chain_head_full_grid(charts, tmp_path):
    "Real (tiny) training: head grid with 2-fold CV → full TPE from the best head → grid around it (via ecgv_search)."
    from ecg_vision.train import load_config
    lmdb = charts('train', 64, 'std')
    common = dict(arch='mobilenet_v3_small', weights='none', epochs=1, bs=8, patience=0)
    head = dict(load_space('head'), params={'lr': [1e-3, 1e-2]}, fixed={'stage': 'head', **common})
    r = search(head, tmp_path/'head.log', 'head', lmdb=lmdb, folds=2, out=tmp_path/'head', progress=False)
    assert [t.state for t in r['study'].trials] == [TrialState.COMPLETE]*2
    assert all(Path(t.user_attrs['run_dir'], 'fold1', 'log.csv').exists() for t in r['study'].trials)
    assert not list((tmp_path/'head'/'trials').rglob('*.pth'))  # trials keep their logs, not 40-170 MB of weights each
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
    if len({t.value for t in g.trials}) > 1: assert Path(s['plots']['importance']).exists(), s['plots']
    else: assert s['plots']['importance'].startswith('not drawn'), s['plots']
