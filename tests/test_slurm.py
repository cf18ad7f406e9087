"""ecg_vision.slurm and .pipeline end to end: the console command, the task runner, and a real Slurm cluster.

The cluster tests need a running Slurm (`.ci/slurm_up.sh` starts a one-node one). Without `sbatch` they are skipped,
unless ECGV_REQUIRE_SLURM is set: then a missing or stopped cluster is a failure, never a silent skip.
"""
import json, shutil, subprocess, sys, time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ecg_vision.slurm import collect, queue_states, wait_jobs
from ecg_vision.jobs import nb_errors

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT/'tests/fixtures/stage_tiny.ipynb'  # 3-second stand-in stage: resumable steps, optional failure
SYNTH = ROOT/'nbs/01_synth.ipynb'              # the real (cheap) stage notebook
CLI = [sys.executable, '-m', 'ecg_vision.pipeline']
TIMEOUT = 300  # seconds any one Slurm wait may take


@pytest.fixture(scope='session', autouse=True)
def kernel():
    "Papermill runs notebooks with the Jupyter kernel `python3` of this interpreter."
    from jupyter_client.kernelspec import KernelSpecManager
    if 'python3' not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, '-m', 'ipykernel', 'install', '--sys-prefix', '--name', 'python3'], check=True)


@pytest.fixture
def cluster(tmp_path):
    "A cluster config for the test node: 1 core, 1 GB, this interpreter."
    p = tmp_path/'cluster.yaml'
    p.write_text(yaml.safe_dump(dict(cpus=1, mem='1G', time='00:10:00', python=sys.executable)))
    return p


@pytest.fixture
def jobs():
    "Job ids a test submitted; whatever is still queued at the end is cancelled."
    ids = []
    yield ids
    if ids and shutil.which('scancel'):
        subprocess.run(['scancel', *map(str, ids)], capture_output=True)


def _cli(*args, check=True, cwd=ROOT):
    r = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    if check: assert r.returncode == 0, r.stdout + r.stderr
    return r


def _job_ids(out): return pd.read_csv(Path(out)/'jobs.csv', header=None).iloc[:, 0].astype(str).tolist()


def _until(cond, what, timeout=TIMEOUT, poll=1):
    t0 = time.time()
    while not cond():
        assert time.time() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(poll)


# ---- no cluster needed ------------------------------------------------------------------------------------------

def test_help_explains_actions():
    r = _cli('-h')
    for word in ['script', 'submit', 'pipeline', 'status', 'task', '--table', '--notebook', '--dry_run', '--rows']:
        assert word in r.stdout
    assert shutil.which('ecgv_slurm'), 'ecgv_slurm is not installed as a console script'
    assert 'submit' in subprocess.run(['ecgv_slurm', '-h'], capture_output=True, text=True).stdout


def test_script_and_errors(tmp_path, cluster):
    pd.DataFrame(dict(n=[3, 4])).to_csv(tmp_path/'t.csv', index=False)
    r = _cli('script', '--config', cluster, '--table', tmp_path/'t.csv', '--notebook', TINY, '--out', tmp_path/'o')
    assert '#SBATCH --array=0-1' in r.stdout and '--requeue' in r.stdout and 'sbatch --parsable' in r.stdout
    assert not (tmp_path/'o/jobs.csv').exists()  # nothing submitted
    r = _cli('submit', '--table', tmp_path/'t.csv', '--out', tmp_path/'o', check=False)
    assert r.returncode and 'needs --notebook' in r.stderr
    (tmp_path/'bad.yaml').write_text('gpu: 1\n')
    r = _cli('script', '--config', tmp_path/'bad.yaml', '--table', tmp_path/'t.csv', '--notebook', TINY,
             '--out', tmp_path/'o', check=False)
    assert r.returncode and "bad.yaml: unknown key 'gpu'" in r.stderr


def test_task_runs_locally(tmp_path):
    "`task` is exactly what each array task runs: good row exits 0, failing row exits 1, both leave a record."
    pd.DataFrame(dict(n=[5, 6], fail=[False, True])).to_csv(tmp_path/'t.csv', index=False)
    out = tmp_path/'o'
    assert _cli('task', '--table', tmp_path/'t.csv', '--index', 0, '--notebook', TINY, '--out', out).returncode == 0
    assert json.loads((out/'task_0/result.json').read_text())['n'] == 5
    r = _cli('task', '--table', tmp_path/'t.csv', '--index', 1, '--notebook', TINY, '--out', out, check=False)
    assert r.returncode == 1
    st = collect(out)
    assert st.state.tolist() == ['done', 'failed'] and 'failing on purpose' in st.error[1]


# ---- real Slurm -------------------------------------------------------------------------------------------------

def test_array_runs_stage_notebook(slurm, tmp_path, cluster, jobs):
    "A 2-task array runs 01_synth through papermill, each task with its own row; every record and output is there."
    table = pd.DataFrame(dict(n=[8, 12], seed=[0, 1]))
    table.to_csv(tmp_path/'grid.csv', index=False)
    out = tmp_path/'synth'
    r = subprocess.Popen([*CLI, 'submit', '--config', cluster, '--table', tmp_path/'grid.csv', '--notebook', SYNTH,
                          '--out', out, '--wait'], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _until(lambda: (out/'jobs.csv').exists() or r.poll() is not None, 'the job id')
    if (out/'jobs.csv').exists(): jobs.extend(_job_ids(out))
    log, _ = r.communicate(timeout=TIMEOUT)
    assert r.returncode == 0, log
    assert 'job ' in log and 'done' in log
    for i, row in table.iterrows():
        nb = out/f'task_{i}.ipynb'
        assert nb.exists(), f'task {i}: no executed notebook'
        assert nb_errors(nb) == [], f'task {i}: {nb_errors(nb)}'
        injected = json.loads(nb.read_text())['metadata']['papermill']['parameters']
        assert injected['n'] == row.n and injected['seed'] == row.seed and injected['out'] == str(out/f'task_{i}')
        diag = pd.read_csv(out/f'task_{i}/Diagnostics.csv')
        assert len(diag) == row.n and len(list((out/f'task_{i}/ECGDataDenoised').glob('*.csv'))) == row.n
    st = collect(out)
    assert st.state.tolist() == ['done', 'done'] and all(st.log != '')
    assert '2/2 done' in _cli('status', '--out', out).stdout


def test_requeue_resumes_from_checkpoint(slurm, tmp_path, cluster, jobs):
    "USR1 (what --signal sends before the time limit) stops the task, requeues it, and it resumes without clobbering."
    pd.DataFrame(dict(steps=[8], sleep=[1.5])).to_csv(tmp_path/'t.csv', index=False)
    out = tmp_path/'rq'
    _cli('submit', '--config', cluster, '--table', tmp_path/'t.csv', '--notebook', TINY, '--out', out)
    job = _job_ids(out)[0]; jobs.append(job)
    ckpt = out/'task_0/ckpt.json'
    _until(lambda: ckpt.exists() and json.loads(ckpt.read_text())['step'] >= 2, 'the first checkpoints')
    subprocess.run(['scancel', '--signal=USR1', '--batch', f'{job}_0'], check=True)
    _until(lambda: queue_states(job).get(f'{job}_0') == 'PENDING', 'the requeue', poll=0.5)
    # a requeued job waits cred_expire seconds before it starts again (.ci/slurm_up.sh sets 30, Slurm's default is 120)
    wait_jobs(job, timeout=TIMEOUT, poll=1)
    res = json.loads((out/'task_0/result.json').read_text())
    assert res['resumed_from'] >= 2, res
    st = json.loads((out/'task_0.json').read_text())
    assert st['state'] == 'done' and st['attempt'] == 2, st
    assert (out/'task_0.attempt1.ipynb').exists() and nb_errors(out/'task_0.ipynb') == []
    assert 'requeueing' in (out/f'logs/ecgv-stage_tiny_{job}_0.out').read_text()


def test_pipeline_chains_and_stops_on_failure(slurm, tmp_path, cluster, jobs):
    "Stages run in order (afterok); a failed task holds back the stages after it."
    pd.DataFrame(dict(n=[1, 2], fail=[False, True])).to_csv(tmp_path/'train.csv', index=False)
    (tmp_path/'pipe.yaml').write_text(yaml.safe_dump(dict(out=str(tmp_path/'run'), stages=[
        dict(name='first', notebook=str(TINY), params=dict(n=7)),
        dict(name='second', notebook=str(TINY), table=str(tmp_path/'train.csv')),
        dict(name='third', notebook=str(TINY), params=dict(n=9))])))
    r = _cli('pipeline', '--config', cluster, '--stages', tmp_path/'pipe.yaml')
    ids = {s: _job_ids(tmp_path/f'run/{s}')[0] for s in ['first', 'second', 'third']}
    jobs.extend(ids.values())
    assert all(f'{s}: job {j}' in r.stdout for s, j in ids.items()), r.stdout
    wait_jobs([ids['first'], ids['second']], timeout=TIMEOUT, poll=1)
    first = json.loads((tmp_path/'run/first/task_0.json').read_text())
    assert first['state'] == 'done' and first['params']['n'] == 7
    done_first = (tmp_path/'run/first/task_0.json').stat().st_mtime
    for i in (0, 1):  # the second stage started only after the first had finished
        started = time.mktime(time.strptime(json.loads((tmp_path/f'run/second/task_{i}.json').read_text())['started'],
                                            '%Y-%m-%dT%H:%M:%S'))
        assert started >= int(done_first) - 1
    assert collect(tmp_path/'run/second').state.tolist() == ['done', 'failed']
    assert 'with --rows 1' in _cli('status', '--out', tmp_path/'run/second').stdout
    third = lambda: subprocess.run(['squeue', '-h', '-j', ids['third'], '-o', '%T|%r'],
                                   capture_output=True, text=True).stdout.strip()
    _until(lambda: third() == 'PENDING|DependencyNeverSatisfied', 'the third stage to be held back', timeout=90)
    assert not (tmp_path/'run/third/task_0.json').exists()
