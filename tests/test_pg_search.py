"""The HPC search journey on a database server: a Slurm array of 4 `ecgv_search` workers (`slurm/search_workers.sbatch`)
sharing one study on PostgreSQL, really training (tiny), one worker SIGKILLed mid-trial and its trial retried.

Needs a PostgreSQL server (`.ci/pg_up.sh` starts one and prints its URL; `ECGV_PG_URL` overrides the URL) and, for the
array, a Slurm cluster (`.ci/slurm_up.sh`). Without them these tests skip, unless ECGV_REQUIRE_PG / ECGV_REQUIRE_SLURM
are set (CI sets both): then a missing server is a failure, never a silent skip.
"""
import os, re, shutil, signal, subprocess, time, uuid
from pathlib import Path
import optuna, pytest
from optuna.trial import TrialState
from optuna.storages import RetryHeartbeatStaleTrialCallback

ROOT = Path(__file__).resolve().parents[1]
PG_DEFAULT = 'postgresql+psycopg2://ecgv:ecgv@127.0.0.1:5432/ecgv_optuna'  # what .ci/pg_up.sh creates
optuna.logging.set_verbosity(optuna.logging.WARNING)


def pg_url() -> str:
    "The test server's URL; skip (or fail under ECGV_REQUIRE_PG) when nothing answers there."
    url = os.environ.get('ECGV_PG_URL') or PG_DEFAULT
    try:
        import sqlalchemy
        eng = sqlalchemy.create_engine(url, connect_args={'connect_timeout': 3})
        with eng.connect(): pass
        eng.dispose()
    except Exception as e:
        msg = f"no PostgreSQL at {url} ({type(e).__name__}: {str(e).strip().splitlines()[0][:200]}): run .ci/pg_up.sh"
        if os.environ.get('ECGV_REQUIRE_PG'): pytest.fail(msg)
        pytest.skip(msg + '; set ECGV_REQUIRE_PG=1 to make this a failure')
    return url


def _need_slurm():
    if not shutil.which('sbatch'):
        if os.environ.get('ECGV_REQUIRE_SLURM'): pytest.fail('ECGV_REQUIRE_SLURM is set but sbatch is not on PATH: run .ci/slurm_up.sh')
        pytest.skip('no Slurm here (sbatch missing); set ECGV_REQUIRE_SLURM=1 to make this a failure')
    r = subprocess.run(['sinfo', '-h', '-o', '%T'], capture_output=True, text=True)
    if r.returncode or not {'idle', 'mixed', 'allocated'} & set(r.stdout.split()):
        pytest.fail(f"Slurm is installed but no node is up ({(r.stderr or r.stdout).strip()}): run .ci/slurm_up.sh")


def _task_states(job:str) -> dict:
    "{'<job>_<i>': (JobState, ExitCode)} of every task of array `job`, from scontrol (works without accounting)."
    r = subprocess.run(['scontrol', '-o', 'show', 'job', job], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        f = dict(re.findall(r'(\w+)=(\S+)', line))
        if 'ArrayTaskId' in f: out[f"{f['ArrayJobId']}_{f['ArrayTaskId']}"] = (f['JobState'], f.get('ExitCode'))
    return out


SPACE = """stage: head
sampler: grid
folds: 1
fixed: {stage: head, arch: mobilenet_v3_small, weights: none, epochs: 1, bs: 8, patience: 0}
params:
  lr: [1.0e-3, 3.0e-3, 1.0e-2]
  wd: [1.0e-4, 1.0e-2]
"""
N = 6  # the grid's points, so the study's tickets


def test_slurm_array_on_postgres(charts, tmp_path):
    "4 array tasks, one PostgreSQL study: exactly N finished trials, each grid point once, a SIGKILLed trial retried, all tasks exit 0."
    url = pg_url(); _need_slurm()
    from ecg_vision.workers import open_storage
    lmdb = charts('train', 32, 'std')
    (tmp_path/'space.yaml').write_text(SPACE)
    study, out, logs = f'hpc-{uuid.uuid4().hex[:8]}', tmp_path/'out', tmp_path/'logs'
    logs.mkdir()
    flags = ['--space', tmp_path/'space.yaml', '--stage', 'head', '--storage', url, '--study', study, '--lmdb', lmdb,
             '--out', out, '--heartbeat', 1, '--stale_after', 4]
    r = subprocess.run(['sbatch', '--parsable', '--array=0-3', '--cpus-per-task=1', '--mem=2G', '--time=00:10:00',
                        f'--output={logs}/%A_%a.out', 'slurm/search_workers.sbatch', *map(str, flags)],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr
    job = r.stdout.strip().split(';')[0]
    t0 = time.time()
    try:
        # kill one worker mid-trial: the first trial that has really started training (its run folder exists)
        victim = None
        while victim is None:
            assert time.time() - t0 < 240, f"no trial started: {_task_states(job)}"
            try: s = optuna.load_study(storage=open_storage(url), study_name=study)
            except KeyError: time.sleep(1); continue
            for t in s.get_trials(states=(TrialState.RUNNING,)):
                if 'worker' in t.user_attrs and (out/'trials'/f'{t.number:04d}'/'params.json').exists(): victim = t; break
            else: time.sleep(0.2)
        host, _, pid = victim.user_attrs['worker'].rpartition(':')
        os.kill(int(pid), signal.SIGKILL)
        print(f"killed worker {victim.user_attrs['worker']} (array task {victim.user_attrs.get('slurm')}) in trial {victim.number} "
              f"{victim.params} after {time.time() - t0:.0f} s")
        while any(st in ('PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING') for st, _ in _task_states(job).values()):
            assert time.time() - t0 < 600, f"array still running: {_task_states(job)}"
            time.sleep(2)
    finally: subprocess.run(['scancel', job], capture_output=True)
    wall = time.time() - t0
    tasks = _task_states(job)
    logtext = '\n'.join(f"--- {p.name}\n{p.read_text()}" for p in sorted(logs.glob('*.out')))
    assert len(tasks) == 4 and all(v == ('COMPLETED', '0:0') for v in tasks.values()), f"{tasks}\n{logtext[-6000:]}"

    s = optuna.load_study(storage=open_storage(url), study_name=study)
    tr = s.trials
    done = [t for t in tr if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    failed = [t for t in tr if t.state == TrialState.FAIL]
    assert len(done) == N, [(t.number, t.state.name) for t in tr]
    assert sorted(t.system_attrs['ticket'] for t in done) == list(range(N))
    assert len({t.system_attrs['grid_id'] for t in done}) == N and len({tuple(sorted(t.params.items())) for t in done}) == N
    assert not s.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    # the killed trial was failed by Optuna's heartbeat check and retried once, on the same grid point
    assert [t.number for t in failed] == [victim.number], [(t.number, t.state.name) for t in tr]
    retry = [t for t in tr if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == victim.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == victim.params and retry[0].system_attrs['grid_id'] == victim.system_attrs['grid_id']
    assert retry[0].user_attrs['worker'] != victim.user_attrs['worker']
    assert 'starting it again' in logtext  # the killed task's script restarted its worker
    workers = {t.user_attrs['slurm'] for t in done}
    assert len(workers) >= 2, workers  # the array really shared the study
    assert all(Path(t.user_attrs['run_dir'], 'results.json').exists() for t in done)  # each trial really trained
    assert not any(any(Path(t.user_attrs['run_dir']).rglob('*.pth')) for t in done)  # and keeps its log, not its weights
    assert (out/'summary.json').exists() and (out/'best_params.yaml').exists()
    for t in sorted(tr, key=lambda t: t.number):
        print(f"trial {t.number} {t.state.name:8s} ticket {t.system_attrs['ticket']} grid {t.system_attrs['grid_id']} {t.params} "
              f"task {t.user_attrs.get('slurm')} worker {t.user_attrs.get('worker')} retry_of {(t.system_attrs.get('retry_history') or [None])[-1]} "
              f"{t.datetime_start:%H:%M:%S}-{t.datetime_complete:%H:%M:%S}")
    print('\n'.join(l for l in logtext.splitlines() if l.startswith(('---', 'ecgv:', 'ran '))))
    print(f"{len(tr)} trials ({len(done)} finished, {len(failed)} failed: trial {victim.number} -> retry {retry[0].number}) "
          f"by tasks {sorted(workers)} in {wall:.0f} s")
