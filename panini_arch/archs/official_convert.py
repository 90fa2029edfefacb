"""The authors' released checkpoints -> this project's networks (key maps, checks, no file writing).

Four kinds of file are recognised (the layouts are in the README, "Use the authors' weights"):

- ``panini_mfr``/``panini_sr``: an MMEditing ``latest.pth`` of the official Panini-Net code
  (``{'meta', 'state_dict': {'generator.*', 'discriminator.*', 'perceptual_loss.*'}, 'optimizer'}``)
  -> a ``PaniniNet`` (and a BasicSR ``StyleGAN2Discriminator``).
- ``moco``: the official UDRL/MoCo ``moco_checkpoint_0199.pth.tar``
  (``module.encoder_q.*`` is the DRE) -> a ``DRE`` with and without its MoCo head.
- ``stylegan2``: MMEditing's StyleGAN2 FFHQ file (``generator_ema.*``, ``discriminator.*``)
  -> BasicSR's ``StyleGAN2Generator`` and ``StyleGAN2Discriminator``.

Every tensor is renamed, never changed; the blur/upsampling kernels the official modules keep as
buffers are checked against their constants and dropped. Each result is checked key by key and
shape by shape against the network it is meant for (built on the meta device, so no memory).
"""
import logging
import re
from dataclasses import dataclass, field

import torch
from basicsr.utils.registry import ARCH_REGISTRY

from ..utils.weights import check_state_dict

_BLUR = torch.tensor([1., 3., 3., 1.], dtype=torch.float64)
BLUR_KERNEL = torch.outer(_BLUR, _BLUR) / 64  # the discriminator's down-sampling blur
UPSAMPLE_KERNEL = 4 * BLUR_KERNEL  # the generator's up-sampling blur (kernel * factor ** 2)
UNUSED = object()  # a rule target: a learned tensor the converted network has no use for

logger = logging.getLogger('basicsr')
KIND_NAMES = {
    'panini_mfr': "the authors' Panini-FR (MFR) checkpoint",
    'panini_sr': "the authors' Panini-SR checkpoint",
    'moco': "the authors' UDRL/MoCo DRE checkpoint",
    'stylegan2': "MMEditing's StyleGAN2 checkpoint",
}


class OfficialCheckpointError(ValueError):
    """A file in (or claimed to be in) an official layout that cannot be converted; names the file and keys."""


@dataclass
class Network:
    """One converted network: its ARCH_REGISTRY ``type``, constructor options and state dict."""
    type: str
    options: dict
    state_dict: dict

    @property
    def num_params(self):
        """Parameters (not buffers) of the network, from a meta-device build."""
        with torch.device('meta'):
            net = build(self.type, self.options)
        return sum(p.numel() for p in net.parameters())


@dataclass
class Conversion:
    """The result of :func:`convert`: the networks by role and what was left out (one line each)."""
    kind: str
    networks: dict
    dropped: list = field(default_factory=list)


def build(arch_type, options):
    """Instantiate one of the converter's target classes by its ARCH_REGISTRY name."""
    return ARCH_REGISTRY.get(arch_type)(**options)


def _rules(*pairs):
    return [(re.compile(pattern), target) for pattern, target in pairs]


def _stylegan_conv(prefix):
    """Rules of one modulated conv layer (``conv1``, ``convs.j``) renamed to ``prefix``."""
    return [(r'conv\.weight_orig', f'{prefix}.modulated_conv.weight'),
            (r'conv\.style_modulation\.linear\.weight_orig', f'{prefix}.modulated_conv.modulation.weight'),
            (r'conv\.style_modulation\.bias', f'{prefix}.modulated_conv.modulation.bias'),
            (r'noise_injector\.weight', f'{prefix}.weight'),
            (r'activate\.bias', f'{prefix}.activate.bias'),
            (r'conv\.blur\.kernel', UPSAMPLE_KERNEL)]


def _stylegan_to_rgb(prefix):
    return [(r'conv\.weight_orig', f'{prefix}.modulated_conv.weight'),
            (r'conv\.style_modulation\.linear\.weight_orig', f'{prefix}.modulated_conv.modulation.weight'),
            (r'conv\.style_modulation\.bias', f'{prefix}.modulated_conv.modulation.bias'),
            (r'bias', f'{prefix}.bias'),
            (r'upsample\.kernel', UPSAMPLE_KERNEL)]


def _nested(pattern, prefix_template, rules_for):
    """A rule for ``pattern.<suffix>`` whose suffix is mapped by ``rules_for(prefix)``."""
    regex = re.compile(pattern + r'\.(?P<suffix>.+)')

    def target(match):
        prefix = match.expand(prefix_template)
        for suffix_pattern, suffix_target in rules_for(prefix):
            if re.fullmatch(suffix_pattern, match['suffix']):
                return suffix_target
        return None

    return regex, target


# mmgen StyleGANv2Generator (no prefix) -> BasicSR StyleGAN2Generator
STYLEGAN_RULES = _rules(
    (r'style_mapping\.(\d+)\.linear\.weight_orig', r'style_mlp.\1.weight'),
    (r'style_mapping\.(\d+)\.bias', r'style_mlp.\1.bias'),
    (r'constant_input\.input', 'constant_input.weight'),
    (r'injected_noise_(\d+)', r'noises.noise\1'),
) + [
    _nested(r'conv1', 'style_conv1', _stylegan_conv),
    _nested(r'convs\.(\d+)', r'style_convs.\1', _stylegan_conv),
    _nested(r'to_rgb1', 'to_rgb1', _stylegan_to_rgb),
    _nested(r'to_rgbs\.(\d+)', r'to_rgbs.\1', _stylegan_to_rgb),
]

# mmgen StyleGAN2Discriminator (no prefix) -> BasicSR StyleGAN2Discriminator
DISCRIMINATOR_RULES = _rules(
    (r'convs\.\d+\.(?:conv2|skip)\.0\.kernel', BLUR_KERNEL),
    (r'convs\.(.+)\.conv\.weight_orig', r'conv_body.\1.weight'),
    (r'convs\.(.+)\.bias', r'conv_body.\1.bias'),
    (r'(final_conv|final_linear)\.(\d+)\.(?:conv|linear)\.weight_orig', r'\1.\2.weight'),
    (r'(final_conv|final_linear)\.(\d+)\.bias', r'\1.\2.bias'),
)


def _stylegan_in_panini(match):
    target = _map_key(match[1], STYLEGAN_RULES)
    return 'generator.' + target if isinstance(target, str) else target


# official Panini_MFR / Panini_SR (after the MMEditing ``generator.`` prefix) -> PaniniNet
PANINI_RULES = [(re.compile(r'generator\.(.+)'), _stylegan_in_panini)] + _rules(
    (r'deg_encoder\.E\.(\d+)\.(\w+)', r'dre.body.\1.\2'),
    (r'deg_encoder\.mlp\.(0|2)\.(weight|bias)', UNUSED),  # the MoCo head: Panini-Net's forward skips it
    (r'choice_vector', 'learned_dr'),
    (r'encoder\.0\.0\.conv_first\.(weight|bias)', r'ife.conv_first.\1'),
    (r'encoder\.0\.0\.body\.(.+)', r'ife.trunk.\1'),
    (r'encoder\.0\.0\.conv_body\.(weight|bias)', r'ife.conv_body.\1'),
    (r'encoder\.0\.1\.fea_preprocess\.(weight|bias)', r'ife.cbam.pre.\1'),
    (r'encoder\.0\.1\.ChannelGate\.mlp\.1\.(weight|bias)', r'ife.cbam.channel_mlp.0.\1'),
    (r'encoder\.0\.1\.ChannelGate\.mlp\.3\.(weight|bias)', r'ife.cbam.channel_mlp.2.\1'),
    (r'encoder\.0\.1\.SpatialGate\.spatial\.conv\.weight', 'ife.cbam.spatial_conv.weight'),
    (r'encoder\.0\.1\.SpatialGate\.spatial\.bn\.(\w+)', r'ife.cbam.spatial_bn.\1'),
) + [
    # encoder.0.{2,4,6,...}: the conv of each conv + LeakyReLU pair from the trunk down to 64
    (re.compile(r'encoder\.0\.(\d+)\.(weight|bias)'),
     lambda m: f'ife.to_64.{(int(m[1]) - 2) // 2}.0.{m[2]}' if int(m[1]) >= 2 and int(m[1]) % 2 == 0 else None),
    (re.compile(r'encoder\.([1-4])\.0\.(weight|bias)'), lambda m: f'ife.downs.{int(m[1]) - 1}.0.{m[2]}'),
] + _rules(
    (r'encoder\.5\.0\.(weight|bias)', r'lce.conv.0.\1'),
    (r'encoder\.5\.3\.(weight|bias)', r'lce.linear.\1'),
    (r'AFS_maskGen\.mapping\.(0|2)\.(weight|bias)', r'mask_generator.mlp.\1.\2'),
    (r'fusion_out\.(\d+)\.(weight|bias)', r'fusions.\1.conv.\2'),
)

# official MoCo query encoder (after ``module.encoder_q.``) -> DRE(with_head=True)
MOCO_RULES = _rules(
    (r'E\.(\d+)\.(\w+)', r'body.\1.\2'),
    (r'mlp\.(0|2)\.(weight|bias)', r'head.\1.\2'),
)


def _map_key(key, rules, prefix=''):
    """The new name of ``key`` (str), the constant it must equal (Tensor), ``UNUSED``, or None (no rule)."""
    for regex, target in rules:
        match = regex.fullmatch(key)
        if match is None:
            continue
        if callable(target):
            target = target(match)
            return target if target is None or torch.is_tensor(target) or target is UNUSED else prefix + target
        if torch.is_tensor(target) or target is UNUSED:
            return target
        return prefix + match.expand(target)
    return None


def rename(state_dict, rules, path, what):
    """Apply ``rules`` to every key of ``state_dict``.

    Returns:
        tuple[dict, int, list]: the renamed state dict, the number of constant buffers checked and
        dropped, and the keys of the dropped ``UNUSED`` tensors.

    Raises:
        OfficialCheckpointError: a key no rule knows, or a constant buffer that differs from its constant.
    """
    renamed, unknown, wrong_constants, unused, constants = {}, [], [], [], 0
    for key, value in state_dict.items():
        target = _map_key(key, rules)
        if target is None:
            unknown.append(key)
        elif target is UNUSED:
            unused.append(key)
        elif torch.is_tensor(target):
            constants += 1
            if tuple(value.shape) != tuple(target.shape) or not torch.equal(value.double(), target):
                wrong_constants.append(key)
        else:
            renamed[target] = value
    problems = [f'{label}: {keys}' for label, keys in (
        ('keys no rule maps', unknown),
        ('constant buffers that differ from the [1, 3, 3, 1] blur kernel', wrong_constants)) if keys]
    if problems:
        raise OfficialCheckpointError(f'{what} in {path}: ' + '; '.join(problems))
    return renamed, constants, unused


def checked_network(arch_type, options, state_dict, path, what):
    """A :class:`Network` after checking every key and shape against a meta-device build."""
    with torch.device('meta'):
        target = build(arch_type, options)
    try:
        check_state_dict(target, state_dict, path, what)
    except RuntimeError as error:
        raise OfficialCheckpointError(f'{error} (names after conversion to {arch_type}; options {options})') from error
    return Network(arch_type, options, state_dict)


def strip_prefix(state_dict, prefix):
    """The entries whose key starts with ``prefix``, with it removed."""
    return {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}


def _shape(state_dict, key, path):
    if key not in state_dict:
        raise OfficialCheckpointError(f'{path} has no key {key!r}, which the official layout needs')
    return tuple(state_dict[key].shape)


def stylegan_options(state_dict, path):
    """``StyleGAN2Generator`` options read from the shapes of an mmgen generator state dict (``narrow`` only
    when the widths are not StyleGAN2's)."""
    num_noises = sum(1 for key in state_dict if re.fullmatch(r'injected_noise_\d+', key))
    if num_noises < 3 or num_noises % 2 == 0:
        raise OfficialCheckpointError(f'{path}: {num_noises} injected_noise_* buffers, expected an odd number >= 3')
    out_size = 2**((num_noises - 1) // 2 + 2)
    last_rgb = f'to_rgbs.{(num_noises - 1) // 2 - 1}.conv.weight_orig'
    width = _shape(state_dict, last_rgb, path)[2]
    narrow = _shape(state_dict, 'constant_input.input', path)[1] / 512  # 1 in every published file
    options = dict(out_size=out_size, num_style_feat=_shape(state_dict, 'style_mapping.1.linear.weight_orig', path)[1],
                   channel_multiplier=max(round(width * out_size / (16384 * narrow)), 1))
    return options if narrow == 1 else dict(options, narrow=narrow)


def discriminator_options(state_dict, path):
    """``StyleGAN2Discriminator`` options read from an mmgen discriminator state dict."""
    num_convs = len({key.split('.')[1] for key in state_dict if key.startswith('convs.')})
    out_size = 2**(num_convs + 1)
    width = _shape(state_dict, 'convs.0.0.conv.weight_orig', path)[0]
    return dict(out_size=out_size, channel_multiplier=max(width * out_size // 16384, 1))


def panini_options(generator, path):
    """``PaniniNet`` options read from the shapes of an official Panini generator state dict."""
    prior = strip_prefix(generator, 'generator.')
    gan = stylegan_options(prior, path)
    trunk = _shape(generator, 'encoder.0.0.conv_first.weight', path)[0]
    hidden = _shape(generator, 'encoder.0.1.ChannelGate.mlp.1.weight', path)[0]
    num_rrdb = len({key.split('.')[4] for key in generator if key.startswith('encoder.0.0.body.')})
    num_to_64 = len({key.split('.')[2] for key in generator if re.match(r'encoder\.0\.\d*[02468]\.weight$', key)})
    return dict(in_size=64 * 2**(num_to_64 - 1), out_size=gan['out_size'], num_style_feat=gan['num_style_feat'],
                channel_multiplier=gan['channel_multiplier'], **({'narrow': gan['narrow']} if 'narrow' in gan else {}),
                degradation_input='learned' if 'choice_vector' in generator else 'dre',
                rrdb_channels=trunk, num_rrdb=num_rrdb, cbam_reduction=trunk // hidden)


def _state_dict(checkpoint):
    """The tensor dict of a checkpoint (``state_dict`` entry, or the checkpoint itself), else None."""
    if not isinstance(checkpoint, dict):
        return None
    inner = checkpoint.get('state_dict', checkpoint)
    return inner if isinstance(inner, dict) else None


def detect_kind(checkpoint):
    """'panini_mfr', 'panini_sr', 'moco', 'stylegan2', or None for any other layout (e.g. BasicSR's)."""
    state_dict = _state_dict(checkpoint)
    if not state_dict:
        return None
    keys = state_dict.keys()
    if any(str(key).startswith('module.encoder_q.') for key in keys):
        return 'moco'
    if 'generator.encoder.0.0.conv_first.weight' in state_dict:
        return 'panini_sr' if 'generator.choice_vector' in state_dict else 'panini_mfr'
    if any(str(key).startswith('generator_ema.') for key in keys):
        return 'stylegan2'
    return None


def convert(checkpoint, path='<checkpoint>', discriminator=True):
    """Convert an official checkpoint (already loaded) to this project's networks.

    Args:
        checkpoint (dict): what ``torch.load`` returned for the file.
        path (str): the file, for messages.
        discriminator (bool): also convert the StyleGAN2 discriminator the Panini and StyleGAN2 files hold.

    Returns:
        Conversion: ``networks`` holds ``generator`` (PaniniNet or StyleGAN2Generator) and
        ``discriminator`` for Panini/StyleGAN2 files, ``dre`` and ``dre_with_head`` for MoCo.

    Raises:
        OfficialCheckpointError: unknown layout, unmapped or missing keys, wrong shapes or constants.
    """
    kind = detect_kind(checkpoint)
    if kind is None:
        found = sorted(map(str, checkpoint))[:20] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise OfficialCheckpointError(
            f'{path} is in no layout the converter knows (an official Panini MFR/SR, MoCo or MMEditing '
            f'StyleGAN2 checkpoint); top-level keys: {found}')
    state_dict = _state_dict(checkpoint)
    what = KIND_NAMES[kind]
    extras = [name for name in sorted(checkpoint) if name != 'state_dict'] if 'state_dict' in checkpoint else []
    dropped = [f'{name} (not part of a network)' for name in extras]
    networks = {}
    if kind == 'moco':
        query = strip_prefix(state_dict, 'module.encoder_q.')
        renamed, _, _ = rename(query, MOCO_RULES, path, what)
        head_dim = _shape(query, 'mlp.2.weight', path)[0]
        networks['dre_with_head'] = checked_network('DRE', dict(with_head=True, head_dim=head_dim), renamed, path,
                                                    what)
        bare = {key: value for key, value in renamed.items() if not key.startswith('head.')}
        networks['dre'] = checked_network('DRE', {}, bare, path, what)
        others = sorted(key for key in state_dict if not key.startswith('module.encoder_q.'))
        dropped.append(f'{len(others)} tensors outside module.encoder_q. (momentum encoder_k, queue, queue_ptr)')
        return Conversion(kind, networks, dropped)

    if kind == 'stylegan2':
        generator = strip_prefix(state_dict, 'generator_ema.')
        renamed, constants, _ = rename(generator, STYLEGAN_RULES, path, what)
        networks['generator'] = checked_network('StyleGAN2Generator', stylegan_options(generator, path), renamed,
                                                path, what)
        dropped.append(f'{constants} constant kernel buffers of generator_ema (checked)')
        rest_prefixes = ('generator_ema.', 'discriminator.') if discriminator else ('generator_ema.', )
        skipped = ['generator.'] + ([] if discriminator else ['discriminator.'])
    else:
        generator = strip_prefix(state_dict, 'generator.')
        renamed, constants, unused = rename(generator, PANINI_RULES, path, what)
        networks['generator'] = checked_network('PaniniNet', panini_options(generator, path), renamed, path, what)
        dropped.append(f'{constants} constant kernel buffers of the StyleGAN2 prior (checked)')
        if unused:
            dropped.append(f'{len(unused)} tensors of the DRE\'s MoCo head deg_encoder.mlp.* (unused by Panini-Net)')
        rest_prefixes = ('generator.', 'discriminator.') if discriminator else ('generator.', )
        skipped = ['perceptual_loss.'] + ([] if discriminator else ['discriminator.'])
    if discriminator:
        disc = strip_prefix(state_dict, 'discriminator.')
        if not disc:
            raise OfficialCheckpointError(f'{path} ({what}) has no discriminator.* tensors to convert')
        renamed_d, constants_d, _ = rename(disc, DISCRIMINATOR_RULES, path, f'{what} (discriminator)')
        networks['discriminator'] = checked_network('StyleGAN2Discriminator', discriminator_options(disc, path),
                                                    renamed_d, path, f'{what} (discriminator)')
        dropped.append(f'{constants_d} constant blur kernel buffers of the discriminator (checked)')
    for prefix in skipped:
        count = sum(1 for key in state_dict if key.startswith(prefix))
        if count:
            dropped.append(f'{count} tensors {prefix}* (not converted)')
    leftover = sorted(key for key in state_dict if not key.startswith(rest_prefixes + tuple(skipped)))
    if leftover:
        raise OfficialCheckpointError(f'{path} ({what}) has tensors outside the known parts: {leftover}')
    return Conversion(kind, networks, dropped)


ROLE_FOR_CLASS = {'PaniniNet': 'generator', 'StyleGAN2Generator': 'generator',
                  'StyleGAN2Discriminator': 'discriminator'}
KINDS_FOR_CLASS = {'PaniniNet': ('panini_mfr', 'panini_sr'), 'StyleGAN2Generator': ('stylegan2', ),
                   'StyleGAN2Discriminator': ('panini_mfr', 'panini_sr', 'stylegan2'), 'DRE': ('moco', )}


def state_dict_for(module, checkpoint, path):
    """The converted state dict for ``module`` when ``checkpoint`` is in an official layout, else None.

    The ``convert`` hook of :func:`panini_arch.utils.weights.load_weights`, passed only where an authors' file
    can appear (``--model_path``, ``path.pretrain_network_g``/``_d``, ``dre_path``, ``stylegan_path``). A
    conversion is logged (printed when no log is set up).

    Returns:
        dict | None: the converted state dict.

    Raises:
        OfficialCheckpointError: an official file that is not for this kind of network, or a bad one.
    """
    kind = detect_kind(checkpoint)
    if kind is None:
        return None
    target = next((cls.__name__ for cls in type(module).__mro__ if cls.__name__ in KINDS_FOR_CLASS), None)
    if target is None or kind not in KINDS_FOR_CLASS[target]:
        raise OfficialCheckpointError(f'{path} is {KIND_NAMES[kind]}, which holds no {type(module).__name__}')
    conversion = convert(checkpoint, path, discriminator=target == 'StyleGAN2Discriminator')
    if target == 'DRE':
        role = 'dre' if module.head is None else 'dre_with_head'
    else:
        role = ROLE_FOR_CLASS[target]
    network = conversion.networks[role]
    if target == 'PaniniNet':
        expected = network.options
        if (module.in_size, module.out_size) != (expected['in_size'], expected['out_size']):
            raise OfficialCheckpointError(
                f'{path} is {KIND_NAMES[kind]} ({expected["in_size"]} -> {expected["out_size"]}), but the net is '
                f'built for {module.in_size} -> {module.out_size}: use the matching preset '
                f'(--arch {"sr16" if kind == "panini_sr" else "fr"}) or network_g {expected}')
    _log_conversion(path, kind, network, role)
    return network.state_dict


def panini_generator(checkpoint, path):
    """The converted PaniniNet (:class:`Network`: options and state dict) of an authors' Panini-FR/SR file,
    logged; None for any other file. Where a net is built for a file, its options come from here."""
    kind = detect_kind(checkpoint)
    if kind not in KINDS_FOR_CLASS['PaniniNet']:
        return None
    network = convert(checkpoint, path, discriminator=False).networks['generator']
    _log_conversion(path, kind, network, 'generator')
    return network


def _log_conversion(path, kind, network, role):
    note = f'{path} is {KIND_NAMES[kind]}: converted in memory to {network.type} ({role})'
    logger.info(note)
    if not logger.hasHandlers():
        print(note, flush=True)
