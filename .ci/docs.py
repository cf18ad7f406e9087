"""The docs build up to Quarto, checked: nbdev's own notebook processing (`nbdev.serve.proc_nbs`, the step `nbdev_docs`
runs before Quarto) over every notebook, then every processed page is read.

A page fails when it holds an error output, a machine path (a temporary folder, a home or checkout folder), or when a
dataclass the page exports is shown without its fields' descriptions. Quarto itself runs in the GitHub docs workflow.

Usage: python .ci/docs.py [--html DIR]   (--html also converts every processed page with nbconvert, to look at)
Exit status 1 with one line per problem, 0 with a one-line summary."""
import ast, dataclasses, importlib, json, re, subprocess, sys, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MACHINE = re.compile(r'(/tmp/|/var/folders/|/root/|/home/[\w.-]+/|/Users/[\w.-]+/|[A-Z]:\\\\Users|' + re.escape(str(ROOT)) + r')')


def process() -> Path:
    "Run nbdev's notebook processing over every notebook (fresh); returns the folder of processed pages."
    from nbdev.serve import proc_nbs
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return Path(proc_nbs(str(ROOT/'nbs'), n_workers=2, force=True))


def texts(cell) -> list:
    "The text of every output of a cell (streams, plain text, markdown, HTML), images left out."
    out = []
    for o in cell.get('outputs', []):
        if 'text' in o: out.append(''.join(o['text']))
        for k, v in o.get('data', {}).items():
            if k.startswith(('text/', 'application/json')) and k != 'text/html' or k == 'text/html': out.append(''.join(v) if isinstance(v, list) else str(v))
    return out


def page_problems(nb:Path) -> list:
    "Error outputs and machine paths on one processed page."
    res = []
    for i, c in enumerate(json.loads(nb.read_text()).get('cells', [])):
        for o in c.get('outputs', []):
            if o.get('output_type') == 'error': res.append(f"{nb.name} cell {i}: error output {o.get('ename')}: {o.get('evalue', '')[:100]}")
            if o.get('name') == 'stderr' and 'Traceback' in ''.join(o.get('text', [])): res.append(f"{nb.name} cell {i}: a traceback on stderr")
        for t in texts(c):
            if m := MACHINE.search(t): res.append(f"{nb.name} cell {i}: machine path {m.group(0)!r} in an output")
    return res


def dataclass_problems(proc:Path) -> list:
    "Exported dataclasses whose page does not show their fields' descriptions (the docments after each field)."
    res = []
    for nb in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        mod = next((m[1] for c in cells if (m := re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M))), None)
        if not mod or not (proc/nb.name).exists(): continue
        page = '\n'.join(t for c in json.loads((proc/nb.name).read_text())['cells'] for t in texts(c))
        m = importlib.import_module(f'ecg_vision.{mod}')
        for name in getattr(m, '__all__', []):
            obj = getattr(m, name, None)
            if not (isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == m.__name__): continue
            f = dataclasses.fields(obj)
            if f and f"{f[0].name}:" in page and not re.search(rf"{re.escape(f[0].name)}:[^\n]*#", page):
                res.append(f"{nb.name}: {name} is shown without its fields' descriptions (show_doc the exported class: see 05c_train)")
    return res


if __name__ == '__main__':
    try: proc = process()
    except Exception as e: sys.exit(f"docs: nbdev's notebook processing failed: {type(e).__name__}: {str(e).splitlines()[0]}")
    pages = sorted(proc.rglob('*.ipynb'))
    problems = [p for nb in pages for p in page_problems(nb)] + dataclass_problems(proc)
    if '--html' in sys.argv:
        dest = Path(sys.argv[sys.argv.index('--html') + 1]); dest.mkdir(parents=True, exist_ok=True)
        for nb in pages:
            subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'html', '--output-dir', str(dest/nb.parent.relative_to(proc)), str(nb)],
                           capture_output=True, check=True)
    for p in problems: print(p)
    print(f"docs: {len(pages)} pages processed, {len(problems)} problems")
    sys.exit(1 if problems else 0)
