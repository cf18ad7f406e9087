"`ecgv_report` end to end on run folders made here (06c_report tests collapsed, gather_runs and summarise)."
import json
import numpy as np, pandas as pd, pytest
from conftest import run
from ecg_vision.data import CLASSES
from ecg_vision.report import report

# ---- consolidation on run folders made here ----
COST = dict(resnet18=dict(params=11.2e6, gmacs=1.82, state_dict_mb=42.7, latency_ms=8.0),
            mobilenet_v3_small=dict(params=1.5e6, gmacs=0.06, state_dict_mb=5.9, latency_ms=3.0))

def _run(d, arch, seed, f1, share=0.3, config='config1', cost=True, fold=None):
    d.mkdir(parents=True)
    (d/'params.json').write_text(json.dumps(dict(arch=arch, seed=seed, classes=CLASSES, size=0)))
    if cost: (d/'cost.json').write_text(json.dumps(COST[arch]))
    (d/'eval').mkdir()
    (d/'eval'/'metrics.json').write_text(json.dumps(dict(f1=f1, precision=f1, recall=f1, accuracy=f1, auroc=0.95, pred_share=share,
        ci=dict(f1=[f1 - .02, f1 + .02]), config=config, classes=CLASSES, n=20, n_records=10)))

@pytest.fixture
def runs_dir(tmp_path):
    root = tmp_path/'runs'
    for s, f1 in enumerate([0.90, 0.92, 0.94]): _run(root/'resnet18'/f'seed{s}', 'resnet18', s, f1)
    _run(root/'resnet18'/'seed3', 'resnet18', 3, 0.10, share=0.98)                   # collapsed: one class
    for k, f1 in enumerate([0.80, 0.84]): _run(root/'mnv3'/f'fold{k}', 'mobilenet_v3_small', 42, f1)   # k-fold layout
    for s, f1 in enumerate([0.85, 0.87]): _run(root/'mnv3c2'/f'seed{s}', 'mobilenet_v3_small', s, f1, config='config2')
    (root/'broken').mkdir(); (root/'broken'/'metrics.json').write_text('{not json')
    return root

def test_report_cli(runs_dir, tmp_path):
    out = tmp_path/'rep'
    p = run('ecgv_report', runs_dir, '--out', out, '--skip_cost')
    assert 'skipped' in p.stdout and str(out) in p.stdout
    for f in ('runs.csv', 'summary.csv', 'summary.md', 'f1_vs_cost.png'): assert (out/f).stat().st_size > 0
    md = (out/'summary.md').read_text()
    assert '0.920 ± 0.020' in md and 'Collapsed runs (1)' in md and 'Published numbers' in md and '0.961' in md
    sm = pd.read_csv(out/'summary.csv')
    assert {'arch', 'config', 'f1_mean', 'f1_sd', 'n_collapsed', 'params', 'gmacs', 'state_dict_mb'} <= set(sm.columns)

def test_report_by_arch_only(runs_dir, tmp_path):
    r = report(runs_dir, tmp_path/'rep', by=['arch'], compute_cost=False)   # no config column: one marker for all
    assert sorted(r['summary'].arch) == ['mobilenet_v3_small', 'resnet18'] and (tmp_path/'rep'/'f1_vs_cost.png').exists()

def test_report_measures_missing_cost(tmp_path):
    root = tmp_path/'runs'
    _run(root/'a', 'mobilenet_v3_small', 0, 0.8, cost=False)
    r = report(root, tmp_path/'rep')
    assert r['runs'].gmacs.iloc[0] > 0 and r['runs'].params.iloc[0] > 1e6

def test_report_empty(tmp_path):
    (tmp_path/'empty').mkdir()
    p = run('ecgv_report', tmp_path/'empty', '--out', tmp_path/'rep', check=False)
    assert p.returncode != 0 and 'no readable metrics.json' in p.stderr

# ---- what evaluate writes is what report reads ----
def test_report_reads_evaluated_run(charts, tmp_path):
    from ecg_vision.evaluate import evaluate
    from ecg_vision.test_utils import fake_run
    lm = charts('test', 64, 'config2')
    rd = fake_run(tmp_path/'runs'/'run', lm)
    evaluate(rd, lm, rd/'eval', tta=True, n_boot=20, progress=False)
    rep = report(tmp_path/'runs', tmp_path/'rep')
    assert rep['runs'].config.tolist() == ['config2'] and rep['runs'].arch.tolist() == ['mobilenet_v3_small']
    assert rep['runs'].gmacs.iloc[0] > 0 and np.isfinite(rep['runs'].tta_f1.iloc[0])
