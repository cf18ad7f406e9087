"""Journeys: the command sequences the docs promise, run as a user types them (subprocesses, console scripts).

The commands come from the documents themselves (`doc_commands` reads their ```sh blocks), so a documented command
cannot drift from a working one. Where a document's values suit a cluster rather than CI (a GPU partition, 20 epochs)
the test names each substitution, and every substitution must match the document, or the test fails.
"""
import json, os, re, shutil, subprocess, sys, time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TUT = ROOT/'nbs'/'tutorials'
FIX = ROOT/'nbs'/'fixtures'


def doc_blocks(path:Path) -> list:
    "(section heading, [commands]) for each ```sh block of a notebook or markdown file, continuations joined, comments cut."
    text = path.read_text()
    if path.suffix == '.ipynb': text = '\n'.join(''.join(c['source']) for c in json.loads(text)['cells'] if c['cell_type'] == 'markdown')
    res, heading = [], ''
    for part in re.split(r'(```(?:sh|bash)\n.*?```)', text, flags=re.S):
        if not part.startswith(('```sh', '```bash')):
            hs = re.findall(r'^#+ (.+)$', part, flags=re.M)
            heading = hs[-1] if hs else heading
            continue
        body = part[part.index('\n') + 1:-3].replace('\\\n', ' ')
        cmds = [re.sub(r'\s+#\s.*$', '', l).strip() for l in body.splitlines()]
        res.append((heading, [c for c in cmds if c and not c.startswith('#')]))
    return res


def doc_commands(path:Path, sections=None) -> list:
    "The commands of `path`, optionally only of the sections whose heading starts with one of `sections`."
    return [c for h, cs in doc_blocks(path) if sections is None or h.startswith(tuple(sections)) for c in cs]


def substitute(cmds:list, subs:dict) -> list:
    "Apply text substitutions; each must match at least one command (else the document changed under the test)."
    for old in subs: assert any(old in c for c in cmds), f"substitution {old!r} matches no documented command"
    out = []
    for c in cmds:
        for old, new in subs.items(): c = c.replace(old, new)
        out.append(c)
    return out


MAX_LINES = 80  # what one command may print without a terminal (a log): a few lines per stage, occasional progress
NOISE = ('Traceback', 'FutureWarning', '<div', '<progress', 'IPython.core.display', 'Kernel is running over TCP', 'TqdmWarning', '\x1b[')

def sh(cmd:str, cwd:Path, timeout:int=900, env=None, max_lines:int=MAX_LINES) -> subprocess.CompletedProcess:
    "Run one documented command with bash in `cwd` (no terminal); fail when it fails, prints noise or floods the log."
    t = time.time()
    p = subprocess.run(['bash', '-c', cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'MPLBACKEND': 'Agg', **(env or {})})
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"$ {cmd}\n-> exit {p.returncode} after {time.time()-t:.0f} s\n{out[-4000:]}"
    assert not (bad := [n for n in NOISE if n in out]), f"$ {cmd}\nprinted {bad}:\n{out[-4000:]}"
    assert len(out.splitlines()) <= max_lines, f"$ {cmd}\nprinted {len(out.splitlines())} lines (> {max_lines}):\n{out[-4000:]}"
    print(f"{time.time()-t:6.1f} s  $ {cmd}")
    return p


def test_doc_commands_parser(tmp_path):
    "The parser joins continuations, cuts comments and keeps section headings."
    f = tmp_path/'t.md'
    f.write_text("# T\n## 1. A\n```sh\necho a \\\n  --x 1   # note\n# only a comment\n```\n## 2. B\n```sh\necho b\n```\n")
    assert doc_blocks(f) == [('1. A', ['echo a    --x 1']), ('2. B', ['echo b'])]
    assert doc_commands(f, ['2.']) == ['echo b']
    with pytest.raises(AssertionError, match='matches no documented command'): substitute(['echo a'], {'--y': '--z'})


# ---------------------------------------------------------------------------------------------------------------
# The end-to-end tutorial: synth -> split -> charts (config2) -> train --stage both -> eval --tta -> report ->
# explain -> predict; then search head -> full -> grid -> ecgv_train --config (2-fold) -> eval -> predict.

E2E = TUT/'end_to_end.ipynb'

@pytest.fixture(scope='module')
def e2e(tmp_path_factory):
    "A working folder where the tutorial's sections 1-2 (records, split, charts) have run."
    d = tmp_path_factory.mktemp('e2e')
    for c in doc_commands(E2E, ['1.', '2.']): sh(c, d)
    return d


def test_tutorial_data_and_charts(e2e):
    from ecg_vision.lmdb import read_meta, verify
    split = pd.read_csv(e2e/'work/data/split_train.csv')
    assert not any(Path(p).is_absolute() for p in split.path)  # the folder can move
    moved = e2e/'moved'; shutil.copytree(e2e/'work/data', moved)  # ... and still renders from its new place
    sh(f"ecgv_pack --meta {moved}/split_test.csv --size 32 --out {e2e}/moved.lmdb", e2e)
    assert verify(e2e/'moved.lmdb') == []
    m = read_meta(e2e/'work/train.lmdb')
    assert (m['layouts'], m['size'], m['count']) == (['std', '2x6'], [128, 128], 2*len(split))
    assert len(list((e2e/'work/charts').glob('*/std.png'))) == len(pd.read_csv(e2e/'work/data/split_test.csv'))


def test_tutorial_train_eval_report_explain_predict(e2e):
    for c in doc_commands(E2E, ['3.', '4.', '5.']): sh(c, e2e)
    run = e2e/'runs/mnv3s/seed0'
    p = json.loads((run/'params.json').read_text())
    assert (p['arch'], p['stage'], p['layouts'], p['input_size']) == ('mobilenet_v3_small', 'both', ['std', '2x6'], [128, 128])
    log = pd.read_csv(run/'log.csv')
    assert list(log.stage) == ['head', 'full', 'full']
    m = json.loads((run/'eval/metrics.json').read_text())
    assert 0 <= m['f1'] <= 1 and 'tta' in m and m['config'] == 'config2'
    assert (e2e/'report/summary.md').is_file() and (e2e/'record_cam.png').is_file()
    assert len(list((run/'explain/overlays').glob('*.png'))) >= 4
    # the same command again resumes nothing and says so; another one is refused in one line
    again = sh(doc_commands(E2E, ['3.'])[0], e2e)
    assert 'had finished before with the same settings' in again.stdout
    p2 = subprocess.run(['bash', '-c', doc_commands(E2E, ['3.'])[0].replace('--epochs 2', '--epochs 3')], cwd=e2e,
                        capture_output=True, text=True)
    assert p2.returncode == 2 and p2.stderr.strip().splitlines() == [p2.stderr.strip()] and 'epochs: 2 -> 3' in p2.stderr


def test_tutorial_search_to_final_model(e2e):
    for c in doc_commands(E2E, ['6.']): sh(c, e2e, timeout=1800)
    s = e2e/'work/search'
    for stage, n in (('head', 4), ('full', 3), ('grid', 3)):
        t = pd.read_csv(s/stage/'trials.csv')
        assert len(t) == n and t.state.isin(['COMPLETE', 'PRUNED']).all(), (stage, t.state.tolist())
        assert not list((s/stage/'trials').rglob('*.pth'))  # trials keep logs, not weights
    best = yaml.safe_load((s/'grid/best_params.yaml').read_text())
    assert (best['stage'], best['folds'], best['arch']) == ('full', 2, 'mobilenet_v3_small')
    run = e2e/'runs/best'
    p = json.loads((run/'params.json').read_text())
    assert p['final_model'] in ('fold0', 'fold1') and (run/'kfold.csv').is_file()
    assert (run/'model.pth').read_bytes() == (run/p['final_model']/'model.pth').read_bytes()
    assert 0 <= json.loads((run/'eval/metrics.json').read_text())['f1'] <= 1


def test_search_that_cannot_train_fails_in_one_line(e2e, tmp_path):
    "Offline ImageNet weights for an arch with none installed: one line before any trial, exit 2, no outputs."
    p = subprocess.run(['ecgv_search', '--stage', 'head', '--lmdb', str(e2e/'work/train.lmdb'), '--arch', 'resnet18',
                        '--weights', 'imagenet', '--n_trials', '2', '--out', str(tmp_path/'s')],
                       capture_output=True, text=True, env={**os.environ, 'TORCH_HOME': str(tmp_path/'th')})
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().count('\n') == 0 and 'ImageNet weights' in p.stderr and 'Traceback' not in p.stderr
    assert not (tmp_path/'s'/'trials').exists()


def test_search_whose_trials_all_fail_exits_nonzero(e2e, tmp_path):
    "Every trial fails (an optimiser name the trainer refuses): exit 2 naming the first failure, not 0."
    sp = tmp_path/'space.yaml'
    sp.write_text(yaml.safe_dump(dict(stage='head', sampler='grid', pruner='none', folds=1, fixed={'stage': 'head'},
                                      params={'lr': [1e-3, 2e-3], 'opt': ['lamb']})))
    p = subprocess.run(['ecgv_search', '--stage', 'head', '--space', str(sp), '--lmdb', str(e2e/'work/train.lmdb'),
                        '--arch', 'mobilenet_v3_small', '--weights', 'none', '--epochs', '1', '--out', str(tmp_path/'s'), '--quiet'],
                       capture_output=True, text=True)
    assert p.returncode == 2, p.stdout + p.stderr
    assert 'none of its 2 trials completed; first failure: trial 0' in p.stderr.strip().splitlines()[-1]


def test_timm_model_search_train_eval_explain_predict(e2e, tmp_path):
    "A timm architecture from its offline ImageNet weights (the lite0 package) through search, training, evaluation, explanation, prediction."
    w, s = e2e/'work', tmp_path/'search'
    sh(f"ecgv_search --stage head --lmdb {w}/train.lmdb --arch tf_efficientnet_lite0 --weights imagenet --epochs 1 --n_trials 2 --folds 1 --out {s}", tmp_path)
    sh(f"ecgv_train --config {s}/best_params.yaml --stage both --head_epochs 1 --epochs 1 --out {tmp_path}/run", tmp_path)
    sh(f"ecgv_eval --model {tmp_path}/run --lmdb {w}/test.lmdb --out {tmp_path}/ev --skip_cost --n_boot 100", tmp_path)
    sh(f"ecgv_explain --model {tmp_path}/run --lmdb {w}/test.lmdb --out {tmp_path}/ex --n 2 --faith 1 --limit 8", tmp_path)
    out = sh(f"ecgv_predict {w}/data/ECGDataDenoised/SYN_0000_000003.csv --model {tmp_path}/run", tmp_path).stdout
    p = json.loads((tmp_path/'run/params.json').read_text())
    assert (p['arch'], p['weights'], p['mean'], p['std']) == ('tf_efficientnet_lite0', 'imagenet', [0.5]*3, [0.5]*3)  # timm's normalisation
    assert list(pd.read_csv(tmp_path/'run/log.csv').stage) == ['head', 'full'] and 'predicted:' in out
    assert json.loads((tmp_path/'ex/summary.json').read_text())['activation_family'] == 'relu6'


# ---------------------------------------------------------------------------------------------------------------
# Real data tutorial, on the real records the project ships (split, charts, predict one file with a trained run).

def test_tutorial_real_data_on_fixtures(e2e, tmp_path):
    cmds = doc_commands(TUT/'real_data.ipynb')
    cmds = substitute(cmds, {'--data physionet/WFDBRecords': f'--data {FIX}/wfdb', '--size 224 --out work/pn': '--size 128 --out work/pn',
                             '--data ptbxl/': f'--data {FIX}/ptbxl/', '--size 224 --out work/ptbxl': '--size 128 --out work/ptbxl',
                             'chapman/ECGDataDenoised/MUSE_20180111_155115_19000.csv': f'{FIX}/chapman/MUSE_20180111_155115_19000.csv',
                             '--model runs/best': f"--model {e2e/'runs/mnv3s/seed0'}"})
    for c in [c for c in cmds if '--data chapman' not in c and 'work/chapman' not in c and '--scale full' not in c]: sh(c, tmp_path)  # the full release (and a GPU cluster) is not here
    assert len(pd.read_csv(tmp_path/'work/pn/split_test.csv')) >= 5 and (tmp_path/'cam.png').is_file()
    for d in ('pn', 'ptbxl'): assert 0 <= json.loads((tmp_path/f'work/{d}/eval/metrics.json').read_text())['accuracy'] <= 1
    ptb = pd.read_csv(tmp_path/'work/ptbxl/split_test.csv')
    assert len(ptb) == 3 and set(ptb.fold) == {10} and set(ptb.part) == {'test'}  # the release's test fold, by patient


# ---------------------------------------------------------------------------------------------------------------
# README (a): a fresh virtual environment *without* the dev extras, then the demo.

def test_readme_demo_in_fresh_venv_without_dev_extras(clean_venv, tmp_path):
    "README (a) as written, in the venv without the dev extras (`clean_venv` ran its `pip install -e .`), other parameters."
    readme = (ROOT/'README.md').read_text()
    cmd = next(c for c in re.findall(r'```sh\n(.*?)```', readme, flags=re.S) if 'ecgv_demo' in c).strip()
    assert cmd == 'pip install -e . && ecgv_demo --out demo_out', cmd
    env = {**os.environ, 'PATH': f"{clean_venv/'bin'}:{os.environ['PATH']}", 'VIRTUAL_ENV': str(clean_venv), 'PYTHONPATH': ''}
    env.pop('PYTHONHOME', None)
    demo = cmd.replace('ecgv_demo --out demo_out', f"ecgv_demo --out {tmp_path/'demo_out'} --n 60 --epochs 1 --size 64 --rhythm_n 100")
    p = subprocess.run(['bash', '-c', demo.replace('pip install -e .', f'pip install -q -e {ROOT}')], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=2400)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert (tmp_path/'demo_out'/'REPORT.md').is_file()
    assert 'Traceback' not in p.stdout + p.stderr


# ---------------------------------------------------------------------------------------------------------------
# Slurm: the shipped pipeline, scaled down, on the one-node cluster; then status and report. And an Optuna worker array.

@pytest.fixture
def node(tmp_path, slurm):
    "The cluster config for the test node (1 core, 2 GB per task, this interpreter), and a submit folder."
    (tmp_path/'slurm').mkdir()
    (tmp_path/'slurm/cluster.yaml').write_text(yaml.safe_dump(dict(cpus=1, mem='2G', time='00:20:00', python=sys.executable, gpus=0)))
    return tmp_path


def scaled_pipeline(dest:Path) -> dict:
    "slurm/pipeline.yaml with CI sizes: fewer records, 64 px, 1 epoch, another stage and arch, no GPU partition."
    p = yaml.safe_load((ROOT/'slurm/pipeline.yaml').read_text())
    st = {s['name']: s for s in p['stages']}
    assert list(st) == ['synth', 'split', 'charts', 'train', 'evaluate']
    for s in p['stages']: s['notebook'] = str(ROOT/s['notebook']); s.pop('cluster', None)
    st['synth']['params'].update(n=40)
    st['charts']['params'].update(size=64, workers=1)
    st['train']['table'] = [{'arch': 'mobilenet_v3_small'}, {'arch': 'resnet18'}]
    st['train']['params'].update(weights='none', epochs=1, stage='full', bs=16)  # not the defaults: stage full, 1 epoch
    dest.write_text(yaml.safe_dump(p, sort_keys=False))
    return p


def test_slurm_pipeline_status_and_report(node):
    cmds = doc_commands(TUT/'slurm.ipynb', ['3.'])
    assert len(cmds) == 3, cmds
    scaled_pipeline(node/'slurm/pipeline.yaml')
    for c in cmds: sh(c, node, timeout=2400)
    out = node/'runs/pipeline'
    st = pd.read_csv(out/'evaluate'/'table.csv')
    assert len(st) == 2
    for i in range(2):
        assert (out/f'evaluate/task_{i}/metrics.json').is_file()  # the pipeline's evaluations land in evaluate/task_i
        p = json.loads((out/f'train/task_{i}/params.json').read_text())
        assert (p['stage'], p['epochs'], p['layouts']) == ('full', 1, ['std', '2x6'])
    status = sh('ecgv_slurm status --out runs/pipeline', node).stdout
    from ecg_vision.slurm import collect
    st = collect(out)  # every task of every stage, not just the lines that say "done"
    assert st.state.eq('done').all() and len(st) == 8, st[['stage', 'task', 'state', 'error']]
    for stage, n in dict(synth=1, split=1, charts=2, train=2, evaluate=2).items(): assert f'{stage}: {n}/{n} done' in status, status
    summary = (out/'report'/'summary.md').read_text()
    assert 'mobilenet_v3_small' in summary and 'resnet18' in summary


def _study(node:Path, cmds:list, out:str) -> pd.DataFrame:
    "Run the study's documented commands in the node folder; every task must finish; returns the status table."
    from ecg_vision.slurm import collect
    (node/'slurm'/'study.yaml').write_text((ROOT/'slurm'/'study.yaml').read_text())
    if not (node/'nbs').exists(): (node/'nbs').symlink_to(ROOT/'nbs')
    (node/'my_cluster.yaml').write_text((node/'slurm/cluster.yaml').read_text())
    t = time.time()
    for c in cmds: sh(c, node, timeout=3000, max_lines=400)
    st = collect(node/out)
    print(f"study {out}: {len(st)} tasks in {time.time() - t:.0f} s")
    assert st.state.eq('done').all(), st[['stage', 'task', 'state', 'error']].to_string()
    return st


def test_slurm_study(node):
    "slurm/study.yaml at its CI scale with other values of its knobs (one architecture, fewer records, smaller charts, two workers per search), on PostgreSQL when CI has it."
    cmds = doc_commands(ROOT/'slurm/README.md', ['The whole study'])
    assert [c.split()[1] for c in cmds] == ['pipeline', 'status'], cmds
    url = os.environ.get('ECGV_PG_URL', '')
    knobs = 'archs=[resnet18] records=40 size=48 workers=2' + (f' storage={url}' if url else '')  # one PostgreSQL study per search
    st = _study(node, substitute(cmds, {'--scale ci': f"--scale ci --set '{knobs}'"}), 'runs/study')
    assert st.groupby('stage', sort=False).size().to_dict() == dict(synth=1, split=1, charts=4, head=4, full=4, grid=4, final=2, evaluate=2, report=1)
    runs = pd.read_csv(node/'runs/study/report/runs.csv')
    assert len(runs) == 2 and runs.f1_lo.notna().all() and runs.ece.notna().all(), runs
    md = (node/'runs/study/report/summary.md').read_text()
    assert md.count('resnet18') >= 2 and 'mobilenet' not in md, md   # both configs of the one architecture
    assert 'Search trials' in md and 'Per class' in md and 'ECE' in md
    for stage in ('head', 'full', 'grid'):
        assert len(list((node/'runs/study/search').glob(f'*/{stage}/best_params.yaml'))) == 2
    if url:  # no file the study wrote holds the password, except the task tables the tasks read it from
        pw = url.split(':', 2)[2].split('@')[0]
        leaks = [f for f in (node/'runs/study').rglob('*') if f.is_file() and f.name not in ('table.csv', 'stage_table.csv')
                 and pw.encode() in f.read_bytes()]
        assert not leaks, leaks
    status = sh('ecgv_slurm status --out runs/study', node).stdout
    assert 'failed' not in status and 'report: 1/1 done' in status


def test_slurm_optuna_worker_array(node, e2e):
    cmds = doc_commands(TUT/'slurm.ipynb', ['5.'])
    assert len(cmds) == 2, cmds
    t = pd.read_csv(ROOT/'slurm/optuna_workers.csv').head(2)  # two workers, tiny trials
    t['lmdb'], t['arch'], t['weights'], t['epochs'], t['n_trials'], t['folds'] = str(e2e/'work/train.lmdb'), 'mobilenet_v3_small', 'none', 1, 3, 1
    t.to_csv(node/'slurm/optuna_workers.csv', index=False)
    (node/'nbs').symlink_to(ROOT/'nbs')
    for c in cmds: sh(c, node, timeout=1800)
    from ecg_vision.slurm import collect
    st = collect(node/'runs/search')
    assert st.state.tolist() == ['done', 'done'], st[['task', 'state', 'error']]
    trials = pd.read_csv(node/'runs/search/head/trials.csv')
    assert len(trials) == 3 and trials.state.isin(['COMPLETE', 'PRUNED']).all()
    assert trials.filter(like='params_').astype(str).agg('|'.join, axis=1).is_unique  # no grid point twice
    assert (node/'runs/search/head/best_params.yaml').is_file()


def _wait_out(out:Path):
    "Wait for the jobs an `ecgv_slurm submit` recorded in `out/jobs.csv`."
    from ecg_vision.slurm import wait_jobs
    wait_jobs(pd.read_csv(out/'jobs.csv', header=None).iloc[:, 0].astype(str).tolist(), timeout=1500)


def test_slurm_readme_sweep_status_and_rerun(node, e2e):
    "slurm/README.md's sweep: script, submit, status, then resubmitting rows (finished ones are not run again)."
    cmds = substitute(doc_commands(ROOT/'slurm/README.md', ['A sweep']), {'--rows 2,7-8': '--rows 0-1'})
    assert [c.split()[1] for c in cmds] == ['script', 'submit', 'status', 'submit'], cmds
    (node/'my_cluster.yaml').write_text((node/'slurm/cluster.yaml').read_text())
    t = pd.read_csv(ROOT/'slurm/grid_train.csv').iloc[[0, 4]].reset_index(drop=True)  # two architectures, tiny runs
    t['lmdb'], t['arch'], t['weights'], t['epochs'], t['stage'] = str(e2e/'work/train.lmdb'), ['mobilenet_v3_small', 'resnet18'], 'none', 1, 'head'
    t.to_csv(node/'slurm/grid_train.csv', index=False)
    (node/'nbs').symlink_to(ROOT/'nbs')
    script = sh(cmds[0], node).stdout
    assert '#SBATCH --array=0-1' in script and '/nbs/05c_train.ipynb --out' in script  # the notebook, resolved
    sh(cmds[1], node); _wait_out(node/'runs/train')
    status = sh(cmds[2], node).stdout
    assert '2/2 done' in status, status
    for i in range(2): assert json.loads((node/f'runs/train/task_{i}/params.json').read_text())['stage'] == 'head'
    sh(cmds[3], node); _wait_out(node/'runs/train')
    assert json.loads((node/'runs/train/task_0.json').read_text())['attempt'] == 1  # finished tasks are not run again
