"ecg_vision.train end to end: ecgv_train on a tiny synthetic LMDB, YAML config, kill-and-resume (k-fold is tested in 05c_train)."
import json, signal, subprocess, sys
import pandas as pd, pytest, torch
from conftest import run

TINY = ['--arch', 'mobilenet_v3_small', '--weights', 'none', '--bs', '8', '--device', 'cpu']

@pytest.fixture(scope='module')
def lmdb(charts): return charts('train', 64, 'std')

def test_cli_one_epoch(lmdb, tmp_path):
    out = tmp_path/'run'
    p = run('ecgv_train', '--lmdb', lmdb, *TINY, '--stage', 'head', '--epochs', '1', '--out', out)
    assert str(out) in p.stdout
    assert {'model.pth', 'log.csv', 'params.json', 'results.json'} <= {f.name for f in out.iterdir()}
    sd = torch.load(out/'model.pth', weights_only=True)
    assert sd['classifier.3.weight'].shape[0] == 4
    prm = json.loads((out/'params.json').read_text())
    assert prm['seed'] == 42 and prm['classes'] == ['AFIB', 'GSVT', 'SB', 'SR'] and prm['stage'] == 'head'
    from ecg_vision.train import load_run
    assert load_run(out)[0](torch.zeros(1, 3, 64, 64)).shape == (1, 4)

def test_cli_yaml_config(lmdb, tmp_path):
    cfg = tmp_path/'best_params.yaml'
    cfg.write_text(f"lmdb: {lmdb}\narch: mobilenet_v3_small\nweights: none\nstage: head\nepochs: 1\nopt: sgd\nlr: 0.01\nbs: 8\n")
    run('ecgv_train', '--config', cfg, '--device', 'cpu', '--sched', 'step', '--out', tmp_path/'run')
    prm = json.loads((tmp_path/'run'/'params.json').read_text())
    assert (prm['opt'], prm['lr'], prm['sched']) == ('sgd', 0.01, 'step')
    cfg.write_text('learning_rate: 1\n')
    p = run('ecgv_train', '--config', cfg, check=False)
    assert p.returncode != 0 and 'learning_rate' in p.stderr

KILLER = '''
import os, signal, sys
from fastai.callback.core import Callback
from ecg_vision.train import TrainConfig, train
class Kill(Callback):
    order = 90  # after Tracker wrote last.pth
    def after_epoch(self):
        if self.epoch == 1: os.kill(os.getpid(), signal.SIGKILL)
train(TrainConfig(lmdb=sys.argv[1], out=sys.argv[2], arch='mobilenet_v3_small', weights='none', stage='full',
                  epochs=3, bs=8, device='cpu', patience=0), cbs=[Kill()])
'''

def test_kill_and_resume(lmdb, tmp_path):
    "SIGKILL after the second epoch; rerunning the command resumes at epoch 3 and finishes with 3 epochs logged once."
    out = tmp_path/'run'
    p = subprocess.run([sys.executable, '-c', KILLER, str(lmdb), str(out)], capture_output=True, text=True, timeout=600)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    ck = torch.load(out/'last.pth', weights_only=True)
    assert (ck['stage'], ck['epoch'], ck['done']) == ('full', 2, 0) and 'opt' in ck
    run('ecgv_train', '--lmdb', lmdb, *TINY, '--stage', 'full', '--epochs', '3', '--patience', '0', '--out', out)
    log = pd.read_csv(out/'log.csv')
    assert list(log.epoch) == [0, 1, 2] and list(log.stage) == ['full']*3
    assert not (out/'last.pth').exists()
    assert json.loads((out/'results.json').read_text())['epochs_run'] == 3
