"""AdapterHub's own `adapters` library (1.1, from ../shared/hfref) as the judge of an exported directory.

Used by adapterhub_parity.py:
  load_report(base, dir, use_safetensors)  load_adapter(dir) with its head into a fresh AutoAdapterModel: the
                                           missing/unexpected keys the library reports (its loading_info and its
                                           log), the adapter and head tensors it ends up with, and its logits
  own_save(base, dir, out)                 save_adapter of an equal model built by the library itself (add_adapter
                                           with the directory's config, add_classification_head with its head
                                           config), both ways: torch.save and use_safetensors=True
  weight_files(dir)                        file name -> {key: tensor} for every weight file of a directory

The reference tree is found at $HFREF, else ../shared/hfref beside the repository (see its README.md).
"""
import json
import logging
import os

import torch
from hfref import use_hfref

LIBRARY_FILES = ('pytorch_adapter.bin', 'adapter.safetensors', 'pytorch_model_head.bin', 'model_head.safetensors')


def import_library():
    """Puts transformers + adapters (and the pure-python safetensors shim) on the path, offline."""
    use_hfref('adapters')
    import adapters  # noqa: F401
    import transformers

    transformers.logging.set_verbosity_error()
    return adapters


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _key_messages(messages):
    """The library's own words for keys it could not place (WeightsLoaderHelper.load_weights_from_state_dict)."""
    return [m for m in messages if 'could not be found in loaded weights' in m or 'could not be loaded into model' in m]


def weight_files(directory):
    from safetensors.torch import load_file

    out = {}
    for f in LIBRARY_FILES:
        path = os.path.join(directory, f)
        if os.path.exists(path):
            out[f] = load_file(path) if f.endswith('.safetensors') else torch.load(path, map_location='cpu', weights_only=True)
    return out


def load_report(base, directory, use_safetensors, rows=(), layernorms=False):
    """load_adapter(directory) with its head, the way a user does; returns what the library reports and computes."""
    from adapters import AutoAdapterModel

    torch.manual_seed(0)
    model = AutoAdapterModel.from_pretrained(base)
    records = _Records()
    log = logging.getLogger('adapters')
    old_level = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(records)
    info = {}
    try:
        name = model.load_adapter(directory, loading_info=info, use_safetensors=use_safetensors)
    finally:
        log.removeHandler(records)
        log.setLevel(old_level)
    model.set_active_adapters(name)
    model.active_head = name
    if layernorms:
        from safetensors.torch import load_file

        res = model.load_state_dict(load_file(os.path.join(directory, 'layernorms.safetensors')), strict=False)
        assert not res.unexpected_keys, res.unexpected_keys
    model.eval()
    state = model.state_dict()
    loaded = {k: v for k, v in state.items() if f'.adapters.{name}.' in k or k.startswith(f'heads.{name}.')}
    with torch.no_grad():
        logits = [model(input_ids=torch.tensor([r['input_ids']])).logits[0].double() for r in rows]
    return {
        'name': name,
        'missing': list(info.get('missing_keys', [])),
        'unexpected': list(info.get('unexpected_keys', [])),
        'log': _key_messages(records.messages),
        'loaded': loaded,
        'logits': torch.stack(logits) if logits else None,
    }


def own_save(base, directory, out):
    """What the library writes for an equal model: its adapter and head built from the directory's configs, saved both ways."""
    from adapters import AutoAdapterModel

    with open(os.path.join(directory, 'adapter_config.json')) as f:
        top = json.load(f)
    with open(os.path.join(directory, 'head_config.json')) as f:
        head = json.load(f)['config']
    model = AutoAdapterModel.from_pretrained(base)
    name = top['name']
    model.add_adapter(name, config=top['config'])
    model.add_classification_head(
        name, num_labels=head['num_labels'], layers=head['layers'], activation_function=head['activation_function'],
        use_pooler=head['use_pooler'], id2label={i: label for label, i in head['label2id'].items()},
    )  # the head's bias: always on in add_classification_head (our head_config says bias: true)
    os.makedirs(out, exist_ok=True)
    written = {}
    for flag in (False, True):
        target = os.path.join(out, 'safetensors' if flag else 'torch')
        model.save_adapter(target, name, use_safetensors=flag)
        written[flag] = target
    return written
