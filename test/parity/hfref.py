"""The offline Hugging Face reference stack (transformers, PEFT, AdapterHub's `adapters`), put on the path.

Found at $HFREF, else ../shared/hfref beside the repository (see that folder's README.md). The parity scripts
import through here, so they agree on where it is and how it is set up (env.sh's order and offline settings).
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ('shims', 'huggingface_hub', 'transformers', 'accelerate', 'peft', 'adapters')


def use_hfref(needs):
    """Puts the stack on sys.path, offline; `needs` is the package folder the caller must find (e.g. 'adapters')."""
    hfref = os.environ.get('HFREF') or os.path.join(os.path.dirname(REPO), 'shared', 'hfref')
    if not os.path.isdir(os.path.join(hfref, needs, needs)):
        raise SystemExit(f'FAIL: no {needs} reference at {hfref} (set HFREF to the hfref folder; see its README.md)')
    # env.sh's order: the shim and huggingface_hub first.
    for sub in reversed(PACKAGES):
        path = os.path.join(hfref, sub)
        if path not in sys.path:
            sys.path.insert(0, path)
    for k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_OFFLINE', 'HF_HUB_DISABLE_TELEMETRY'):
        os.environ.setdefault(k, '1')
    os.environ.setdefault('HF_HOME', os.path.join(os.environ.get('TMPDIR', '/tmp'), 'hfref-hf-home'))
