"""The HPC search journey on a database server: a Slurm array of 4 `ecgv_search` workers (`slurm/search_workers.sbatch`)
sharing one study on PostgreSQL, really training (tiny), one worker SIGKILLed mid-trial and its trial retried. And the
storage URL as users write it: `postgresql://` with or without the driver named, the password in the URL, in `~/.pgpass`
or in `PGPASSWORD`; a URL that cannot be opened is one line naming it; no output of a search holds the password.

Needs a PostgreSQL server (`.ci/pg_up.sh` starts one and prints its URL; `ECGV_PG_URL` overrides the URL) and, for the
array, a Slurm cluster (`.ci/slurm_up.sh`). Without them these tests skip, unless ECGV_REQUIRE_PG / ECGV_REQUIRE_SLURM
are set (CI sets both): then a missing server is a failure, never a silent skip.
"""
import importlib.util, json, os, re, signal, socket, subprocess, time, uuid
from pathlib import Path
import optuna, pytest
from optuna.trial import TrialState
from optuna.storages import RetryHeartbeatStaleTrialCallback
from sqlalchemy.engine import make_url
from ecg_vision.workers import StorageError, mask_url, open_storage

ROOT = Path(__file__).resolve().parents[1]
PG_DEFAULT = 'postgresql://ecgv:ecgv-pg-s3cret@127.0.0.1:5432/ecgv_optuna'  # what .ci/pg_up.sh creates
optuna.logging.set_verbosity(optuna.logging.WARNING)


def pg_url() -> str:
    "The test server's URL; skip (or fail under ECGV_REQUIRE_PG) when nothing answers there."
    url = os.environ.get('ECGV_PG_URL') or PG_DEFAULT
    try: open_storage(url).engine.dispose()
    except StorageError as e: _missing(f"no PostgreSQL: {e}: run .ci/pg_up.sh")
    return url


def _missing(msg:str):
    "Skip, or fail under ECGV_REQUIRE_PG (CI), where the test server is missing or unfit."
    if os.environ.get('ECGV_REQUIRE_PG'): pytest.fail(msg)
    pytest.skip(msg + '; set ECGV_REQUIRE_PG=1 to make this a failure')


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


def test_slurm_array_on_postgres(charts, tmp_path, slurm):
    "4 array tasks, one PostgreSQL study: exactly N finished trials, each grid point once, a SIGKILLed trial retried, all tasks exit 0."
    url = pg_url()
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
    assert mask_url(url) in logtext  # the logs show the URL, never its password (checked where the password is distinctive)
    assert not _distinctive(url) or make_url(url).password not in logtext
    workers = {t.user_attrs['slurm'] for t in tr if 'slurm' in t.user_attrs}  # the killed trial's task counts: it drew a ticket
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


# ---------------------------------------------------------------------------------------------------------------
# Storage URLs as users write them (a toy objective on a 2-point grid: a few seconds per search)

TOY = "stage: head\nsampler: grid\nfixed: {epochs: 1}\nparams:\n  lr: [1.0e-3, 3.0e-3]\n"

def _toy_space(tmp_path) -> Path:
    "The toy space as a file in `tmp_path`."
    (tmp_path/'toy.yaml').write_text(TOY); return tmp_path/'toy.yaml'

def _ecgv_search(tmp_path, storage:str, study:str, out:Path, env=None) -> subprocess.CompletedProcess:
    "`ecgv_search` as a user types it (toy objective, 2 trials); `env` replaces any PGPASSWORD/PGPASSFILE of ours."
    base = {k: v for k, v in os.environ.items() if k not in ('PGPASSWORD', 'PGPASSFILE')}
    return subprocess.run(['ecgv_search', '--space', str(_toy_space(tmp_path)), '--stage', 'head', '--storage', storage,
                           '--study', study, '--out', str(out), '--objective', 'toy', '--quiet'],
                          capture_output=True, text=True, timeout=300, env={**base, 'MPLBACKEND': 'Agg', **(env or {})})

def _distinctive(url:str) -> bool:
    "Whether the password of `url` is one a leak check can look for (.ci/pg_up.sh's is): long, and not also user/host/database."
    pw = make_url(url).password or ''
    return len(pw) >= 6 and pw not in mask_url(url)

def _secret(url:str) -> str:
    "The test server's password, when it is distinctive."
    if not _distinctive(url): _missing(f"the password of {mask_url(url)} is short or also user/host/database: use .ci/pg_up.sh's URL")
    return make_url(url).password


def test_postgresql_url_forms_and_no_password_in_outputs(tmp_path, monkeypatch):
    "`postgresql://USER:PW@...` end to end through ecgv_search, no output holding PW; `+psycopg2`, ~/.pgpass and PGPASSWORD open it too."
    from ecg_vision.search import search
    url = pg_url(); pw = _secret(url); u = make_url(url)
    typed = re.sub(r'^[\w+]+://', 'postgresql://', url)  # the form users type, whatever the driver ECGV_PG_URL names
    out, study = tmp_path/'out', f'url-{uuid.uuid4().hex[:8]}'
    p = _ecgv_search(tmp_path, typed, study, out)
    assert p.returncode == 0, p.stderr[-3000:]
    assert f"ran 2 trials here; 0 tickets left in study {study!r} at {mask_url(typed)}" in p.stdout, p.stdout
    assert json.loads((out/'summary.json').read_text())['storage'] == mask_url(typed) == typed.replace(f':{pw}@', ':***@')
    files = sorted(f for f in out.rglob('*') if f.is_file())
    assert {'summary.json', 'trials.csv', 'best_params.yaml', 'history.png'} <= {f.name for f in files}
    leaks = [n for n, t in [('stdout', p.stdout.encode()), ('stderr', p.stderr.encode())] + [(str(f), f.read_bytes()) for f in files]
             if pw.encode() in t]
    assert not leaks, leaks

    # the driver named, or no password in the URL at all: libpq reads ~/.pgpass (here PGPASSFILE) or PGPASSWORD itself
    bare = f"postgresql://{u.username}@{u.host}:{u.port or 5432}/{u.database}"
    pgpass = tmp_path/'.pgpass'; pgpass.write_text(f"{u.host}:{u.port or 5432}:{u.database}:{u.username}:{pw}\n"); pgpass.chmod(0o600)
    monkeypatch.delenv('PGPASSWORD', raising=False)
    for name, storage, env in [('psycopg2', re.sub(r'^[\w+]+://', 'postgresql+psycopg2://', url), {}),
                               ('pgpass', bare, {'PGPASSFILE': str(pgpass)}), ('PGPASSWORD', bare, {'PGPASSWORD': pw})]:
        with monkeypatch.context() as m:
            for k, v in env.items(): m.setenv(k, v)
            r = search(_toy_space(tmp_path), storage, f'{study}-{name}', objective='toy', out=tmp_path/name, progress=False)
        assert [t.state for t in r['study'].trials] == [TrialState.COMPLETE]*2, name
        assert json.loads((tmp_path/name/'summary.json').read_text())['storage'] == mask_url(storage)


def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.mark.parametrize('case', ['wrong password', 'unreachable port', 'unknown scheme', 'missing driver', 'no password'])
def test_storage_errors_are_one_line(tmp_path, case):
    "A storage that cannot be opened: exit 2, one stderr line naming the URL with its password masked, and what to check."
    bad = f'not-this-{uuid.uuid4().hex[:8]}'  # the password given; it must not show anywhere
    if case in ('wrong password', 'no password'): u = make_url(pg_url())
    else: u = make_url(PG_DEFAULT)
    where = f"{u.host}:{u.port or 5432}/{u.database}"
    storage, env, expect = {
        'wrong password': (f"postgresql://{u.username}:{bad}@{where}", {}, ['password authentication failed', 'PGPASSWORD']),
        'unreachable port': (f"postgresql://{u.username}:{bad}@127.0.0.1:{_free_port()}/{u.database}", {}, ['check host and port']),
        'unknown scheme': (f"postgre://{u.username}:{bad}@{where}", {}, ['unknown scheme postgre://', 'postgresql://USER@HOST']),
        'missing driver': (f"postgresql+pg8000://{u.username}:{bad}@{where}", {}, ['not installed', 'pip install pg8000']),
        'no password': (f"postgresql://{u.username}@{where}", {'PGPASSFILE': str(tmp_path/'none')}, ['no password supplied', '~/.pgpass']),
    }[case]
    if case == 'missing driver' and importlib.util.find_spec('pg8000'): pytest.skip('pg8000 is installed here')
    p = _ecgv_search(tmp_path, storage, 'err', tmp_path/'out', env)
    err = p.stderr.strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1, f"exit {p.returncode}\n{p.stderr[-3000:]}"
    assert err.startswith(f"ecgv_search: storage {mask_url(storage)}: ") and all(e in err for e in expect), err
    assert 'a bug' not in err and bad not in p.stdout + p.stderr
    assert not (tmp_path/'out').exists()  # nothing was written
