"""Every stage notebook runs as a job — the way `ecgv_slurm` and `ecgv_demo` run it, through papermill — with parameters
other than its defaults, in a virtual environment without the dev extras (no nbdev, no pytest, no scikit-image).

A job runs a notebook's `#| export` cells, then its `parameters` cell and every later cell not marked `#| test`
(`ecg_vision.jobs.job_notebook`). The stages run in pipeline order on one working folder, each reading what the ones
before it wrote, as the stages of `slurm/pipeline.yaml` do.
"""
import json, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS, FIX = ROOT/'nbs', ROOT/'nbs'/'fixtures'

def stage_notebooks() -> set:
    "Notebooks with a `parameters` cell: the stages that run as jobs."
    return {nb.stem for nb in NBS.glob('[0-9]*.ipynb')
            if any('parameters' in c.get('metadata', {}).get('tags', []) for c in json.loads(nb.read_text())['cells'])}

def jobs(w:str) -> list:
    "(id, notebook, parameters) in pipeline order, every parameter set differing from the notebook's defaults."
    return [
        ('synth', '01_synth', dict(out=f'{w}/synth', n=30, seed=3)),
        ('data', '00_data', dict(data=f'{w}/synth')),
        ('split', '00b_split', dict(data=f'{w}/synth', out=f'{w}/split', seed=7, test_size=0.3)),
        ('charts', '02a_charts', dict(data=f'{w}/split', meta='split_test.csv', layouts='std', size=48, out=f'{w}/pngs', workers=2)),
        ('capture', '02b_capture', dict(rhythm='SB', size=96, severity=1.5, seed=2)),
        ('frontend', '02d_frontend', dict(image=str(FIX/'images'/'eik_PTB_XL_op_00003.jpg'), out=f'{w}/traced.png')),
        ('normalise', '02e_normalise', dict(image=str(FIX/'images'/'eik_PTB_XL_op_00003.jpg'), layout='2x6', size='96', route='warp', out=f'{w}/normalise')),
        ('lmdb_train', '03_lmdb', dict(meta=f'{w}/split/split_train.csv', config='config1', size=48, vary=True, out=f'{w}/train.lmdb')),
        ('lmdb_test', '03_lmdb', dict(meta=f'{w}/split/split_test.csv', config='config1', size=48, out=f'{w}/test.lmdb')),
        ('loaders', '03b_loaders', dict(n_records=10, config='std', size=48, bs=4, aug=False, out=f'{w}/loaders')),
        ('signals', '03c_signals', dict(meta=f'{w}/split/split_train.csv', length=4000, bs=4, aug=False, out=f'{w}/train_signals.lmdb')),
        ('rhythm', '04c_rhythm', dict(out=f'{w}/rhythm.json', n=120, seed=2)),
        ('train', '05c_train', dict(lmdb=f'{w}/train.lmdb', arch='resnet18', weights='none', stage='full', epochs=2, bs=8, seed=1, out=f'{w}/run')),
        ('evaluate', '06b_evaluate', dict(lmdb=f'{w}/test.lmdb', run_dir=f'{w}/run', tta=False, n_boot=30, out=f'{w}/run/eval')),
        ('report', '06c_report', dict(runs_dir=f'{w}/run', by='arch', skip_cost=True, out=f'{w}/report')),
        ('robustness', '06d_robustness', dict(model=f'{w}/run', lmdb=f'{w}/test.lmdb', conditions_='blur,phone', severities='1', n_boot=20, out=f'{w}/robust')),
        ('workers', '07_workers', dict(study='jobs', n_workers=2, n_trials=4, epochs=2)),
        ('search', '07b_search', dict(stage='head', lmdb=f'{w}/train.lmdb', arch='resnet18', epochs=1, n_trials=1, folds=1, out=f'{w}/search')),
        ('explain', '08b_explain', dict(model=f'{w}/run', lmdb=f'{w}/test.lmdb', n_faith=1, n_overlays=2, limit=4, out=f'{w}/explain')),
        ('predict', '08c_predict', dict(model=f'{w}/run', file=str(FIX/'wfdb'/'E07500.hea'), out=f'{w}/predict')),
        ('jobs', '09_jobs', dict(n=5, out=f'{w}/jobs')),
        ('slurm', '09c_pipeline', dict(notebook='00b_split.ipynb', n=3, out=f'{w}/slurm')),
        ('demo', '10_demo', dict(out=f'{w}/demo', n=20, size=48, arch='resnet18', head_epochs=0, epochs=1, search_lrs='', explain_n=1,
                                 workers=1, capture=0., robust=False, rhythm_n=80)),
    ]

CHECKS = {  # id -> what the job must have written (beyond finishing without an error)
    'synth': ['synth/Diagnostics.csv'], 'split': ['split/split_train.csv', 'split/labels.json'], 'lmdb_train': ['train.lmdb/data.mdb'], 'signals': ['train_signals.lmdb/data.mdb'],
    'frontend': ['traced.png'], 'normalise': ['normalise/chart.png', 'normalise/debug.png'], 'rhythm': ['rhythm.json'],
    'train': ['run/model.pth', 'run/calibration.json'], 'evaluate': ['run/eval/metrics.json'], 'report': ['report/summary.md'],
    'robustness': ['robust/robustness.csv'], 'search': ['search/trials.csv'], 'explain': ['explain/lead_attribution.csv'],
    'predict': ['predict/predictions.csv'], 'jobs': ['jobs/task_0.json'], 'slurm': ['slurm/ecgv-00b_split.sbatch'], 'demo': ['demo/REPORT.md']}


def test_every_stage_notebook_is_a_job():
    assert {nb for _, nb, _ in jobs('w')} == stage_notebooks()


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    return tmp_path_factory.mktemp('jobs')


@pytest.mark.parametrize('jid', [j for j, _, _ in jobs('w')])
def test_stage_runs_as_a_job(clean_venv, work, jid):
    "The job of one stage, in pipeline order, in a venv without the dev extras; it must write what the stage promises."
    (_, nb, params), = [j for j in jobs(str(work)) if j[0] == jid]
    executed = work/'executed'/f'{jid}.ipynb'
    driver = ("import json, sys; from ecg_vision.jobs import execute_job, nb_errors; "
              "nb = execute_job(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])); print('\\n'.join(nb_errors(nb)))")
    p = subprocess.run([str(clean_venv/'bin'/'python'), '-c', driver, str(NBS/f'{nb}.ipynb'), str(executed), json.dumps(params)],
                       capture_output=True, text=True, timeout=900, cwd=work, env=venv_env(clean_venv))
    assert p.returncode == 0, f"{nb} as a job failed:\n{(p.stdout + p.stderr)[-4000:]}"
    assert not p.stdout.strip().splitlines()[-1:] or 'Error' not in p.stdout.strip().splitlines()[-1], p.stdout[-2000:]
    for f in CHECKS.get(jid, []): assert (work/f).exists(), f"{nb}: {f} not written"


def venv_env(venv:Path) -> dict:
    "The environment of a process started from `venv` (its bin first on PATH, no PYTHONPATH leaking the dev tree's packages)."
    import os
    env = {**os.environ, 'PATH': f"{venv/'bin'}:{os.environ['PATH']}", 'VIRTUAL_ENV': str(venv), 'PYTHONPATH': '', 'MPLBACKEND': 'Agg'}
    env.pop('PYTHONHOME', None)
    return env
