import os, shutil, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT/'nbs'/'fixtures'

def run(*args, cwd=None, check=True, timeout=600):
    "Run a console script (or any command) and return the CompletedProcess; on failure show its output."
    p = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'MPLBACKEND': 'Agg'})
    if check and p.returncode != 0: raise AssertionError(f"{args} -> {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p

@pytest.fixture
def slurm():
    "The one-node test cluster: skip without Slurm (unless ECGV_REQUIRE_SLURM is set), fail when it is installed but not up."
    if not shutil.which('sbatch'):
        if os.environ.get('ECGV_REQUIRE_SLURM'): pytest.fail('ECGV_REQUIRE_SLURM is set but sbatch is not on PATH: run .ci/slurm_up.sh first')
        pytest.skip('no Slurm here (sbatch missing); set ECGV_REQUIRE_SLURM=1 to make this a failure')
    r = subprocess.run(['sinfo', '-h', '-o', '%T'], capture_output=True, text=True)
    if r.returncode or not {'idle', 'mixed', 'allocated'} & set(r.stdout.split()):
        pytest.fail(f"Slurm is installed but no node is up ({(r.stderr or r.stdout).strip()}): run .ci/slurm_up.sh")


def pytest_configure(config):
    "An xdist worker, and every process it starts, computes on one thread: N workers on N cores, no oversubscribed OpenMP pool."
    if os.environ.get('PYTEST_XDIST_WORKER'):
        for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(v, '1')


# fixture -> the xdist group of the tests that use it (the first that applies): the one Slurm node's tests run one after
# another, the clean venv is made once, and the tutorial's journeys share one working folder, each step on the last's
GROUPS = {'slurm': 'slurm', 'clean_venv': 'venv', 'e2e': 'tutorial'}

@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    "Under `pytest -n N --dist loadgroup`, each group of `GROUPS` runs on one worker, in the order the tests are written."
    for it in items:
        if g := next((g for f, g in GROUPS.items() if f in it.fixturenames), None): it.add_marker(pytest.mark.xdist_group(g))


@pytest.fixture(scope='session')
def synth_dir(tmp_path_factory):
    "A small synthetic Chapman-layout dataset with its split, made once per test session."
    from ecg_vision.synth import make_synth
    from ecg_vision.split import make_split
    d = tmp_path_factory.mktemp('synth')
    make_synth(d, n=24, seed=0, progress=False)
    make_split(d, d, progress=False)
    return d


@pytest.fixture(scope='session')
def charts(synth_dir):
    "`charts(split, size, layouts)`: an LMDB of `synth_dir`'s split, rendered once per session (read-only: copy it to change it)."
    from ecg_vision.lmdb import render_to_lmdb
    made = {}
    def get(split='train', size=64, layouts='std'):
        if (key := (split, size, layouts)) not in made:
            made[key] = render_to_lmdb(synth_dir/f'split_{split}.csv', layouts, size, synth_dir/'lmdbs'/f'{split}_{layouts}_{size}.lmdb', progress=False)
        return made[key]
    return get


@pytest.fixture(scope='session')
def clean_venv(tmp_path_factory):
    "A virtual environment with the package installed *without* the dev extras, as a user's `pip install -e .` makes it."
    import sys
    venv = tmp_path_factory.mktemp('venv')/'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    env = {**os.environ, 'PATH': f"{venv/'bin'}:{os.environ['PATH']}", 'VIRTUAL_ENV': str(venv), 'PYTHONPATH': ''}
    env.pop('PYTHONHOME', None)
    p = subprocess.run([str(venv/'bin'/'pip'), 'install', '-q', '-e', str(ROOT)], env=env, capture_output=True, text=True, timeout=2400)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    chk = subprocess.run([str(venv/'bin'/'python'), '-c', 'import importlib.util as u; print([m for m in ("nbdev", "execnb", "pytest", "skimage") if u.find_spec(m)])'],
                         capture_output=True, text=True, env=env)
    assert chk.stdout.strip() == '[]', chk.stdout  # really without the dev extras
    return venv
