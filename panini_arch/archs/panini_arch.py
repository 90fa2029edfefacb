"""Panini-Net: GAN-prior face restoration with degradation-aware feature interpolation."""
import math

import torch
from torch import nn

from basicsr.archs.stylegan2_arch import StyleGAN2Generator
from basicsr.utils.registry import ARCH_REGISTRY

from ..utils.weights import load_weights
from .dre_arch import DRE
from .official_convert import state_dict_for
from .panini_blocks import CatConvFusion, DAFIFusion, InputFeatureExtractor, LatentCodeEncoder, MaskGenerator

FUSION_RESOLUTIONS = (4, 8, 16, 32, 64)
STYLEGAN_SOURCE = ('BasicSR publishes it as stylegan2_ffhq_config_f_1024_official-3ab41b38.pth '
                   '(run `python scripts/download_pretrained_models.py StyleGAN` in a BasicSR checkout).')
DRE_SOURCE = ('Pre-train it with options/train_udrl.yml (UDRL); it is saved as '
              'experiments/<name>/models/net_dre_<iter>.pth.')


@ARCH_REGISTRY.register()
class PaniniNet(nn.Module):
    """Panini-Net (AAAI 2022).

    DRE (or a learned vector) -> v_DR -> per-channel DAFI masks; IFE features
    at 64..4 and W+ codes from the LCE drive a StyleGAN2 generator (the GAN
    prior, BasicSR's ``StyleGAN2Generator``, fine-tuned, fixed noise buffers);
    before the up-sampling conv of each resolution 4..64 the prior feature is
    fused with the IFE feature.

    Args:
        in_size (int): input side, a power of two >= 64 (512 for FR, 64 for SR).
        out_size (int): output side, a power of two > in_size (1024).
        num_style_feat (int): W+ code width (512).
        channel_multiplier (int): StyleGAN2 channel multiplier (2).
        narrow (float): scales every generator width (1 = published).
        fusion (str): 'dafi' or 'catconv' (Table 3 ablation, no degradation input).
        degradation_input (str): 'dre' (Panini-FR) or 'learned' (one learnable
            256-d v_DR, Panini-SR).
        rrdb_channels, num_rrdb, cbam_reduction (int): IFE trunk (FR 8/2/2, SR 64/23/8).
        stylegan_path (str | None): BasicSR StyleGAN2 weights, key ``params_ema``.
        dre_path (str | None): DRE weights saved by the UDRL model, key ``params``.
        fix_dre (bool): freeze the DRE (no gradient, batch-norm kept in eval mode).
        dre_pool_size (int): the DRE sees the input average-pooled to this size
            (256 in the paper; as it is when smaller). Set it to the size the DRE
            was pre-trained at (UDRL ``in_size``).

    Input: (B, 3, in_size, in_size) RGB in [-1, 1].
    Output: (B, 3, out_size, out_size) RGB in about [-1, 1]; with
    ``return_masks`` also the masks (B, 5, C), the weight of the prior feature
    per channel at resolutions 4, 8, 16, 32, 64.
    """

    def __init__(self,
                 in_size=512,
                 out_size=1024,
                 num_style_feat=512,
                 channel_multiplier=2,
                 narrow=1,
                 fusion='dafi',
                 degradation_input='dre',
                 rrdb_channels=8,
                 num_rrdb=2,
                 cbam_reduction=2,
                 stylegan_path=None,
                 dre_path=None,
                 fix_dre=True,
                 dre_pool_size=256):
        super().__init__()
        check_sizes(in_size, out_size)
        if fusion not in ('dafi', 'catconv'):
            raise ValueError(f"fusion must be 'dafi' or 'catconv', got {fusion!r}")
        if degradation_input not in ('dre', 'learned'):
            raise ValueError(f"degradation_input must be 'dre' or 'learned', got {degradation_input!r}")
        if dre_path is not None and (fusion != 'dafi' or degradation_input != 'dre'):
            raise ValueError("dre_path needs fusion='dafi' and degradation_input='dre'")
        self.in_size = in_size
        self.out_size = out_size
        self.fusion = fusion
        self.fix_dre = fix_dre

        self.generator = StyleGAN2Generator(
            out_size, num_style_feat=num_style_feat, channel_multiplier=channel_multiplier, narrow=narrow)
        if stylegan_path is not None:
            load_weights(self.generator, stylegan_path, 'params_ema', 'StyleGAN2 generator', STYLEGAN_SOURCE,
                         convert=state_dict_for)
        # The W+ codes come from the LCE: the mapping MLP is kept only so published weights load strictly.
        self.generator.style_mlp.requires_grad_(False)

        widths = [self.generator.channels[str(res)] for res in FUSION_RESOLUTIONS]
        if len(set(widths)) != 1:
            raise ValueError(f'generator widths at resolutions 4..64 must be equal (channel_multiplier=2), got {widths}')
        channels = widths[0]
        self.ife = InputFeatureExtractor(in_size, channels, rrdb_channels, num_rrdb, cbam_reduction)
        self.lce = LatentCodeEncoder(channels, self.generator.num_latent, num_style_feat)

        self.dre = None
        self.learned_dr = None
        self.mask_generator = None
        if fusion == 'dafi':
            if degradation_input == 'dre':
                self.dre = DRE(pool_size=min(dre_pool_size, in_size))
                if dre_path is not None:
                    load_weights(self.dre, dre_path, 'params', 'DRE', DRE_SOURCE, convert=state_dict_for)
                if fix_dre:
                    self.dre.requires_grad_(False)
                    self.dre.eval()
            else:
                self.learned_dr = nn.Parameter(torch.randn(1, DRE().out_dim))
            self.mask_generator = MaskGenerator(channels, len(FUSION_RESOLUTIONS))
            self.fusions = nn.ModuleList([DAFIFusion(channels) for _ in FUSION_RESOLUTIONS])
        else:
            self.fusions = nn.ModuleList([CatConvFusion(channels) for _ in FUSION_RESOLUTIONS])

    def train(self, mode=True):
        super().train(mode)
        if self.dre is not None and self.fix_dre:
            self.dre.eval()
        return self

    def check_input(self, lq):
        """Raise ValueError unless ``lq`` is a float (B, 3, in_size, in_size) tensor."""
        if not torch.is_tensor(lq) or lq.ndim != 4:
            got = tuple(lq.shape) if torch.is_tensor(lq) else type(lq).__name__
            raise ValueError(f'PaniniNet expects a (B, 3, {self.in_size}, {self.in_size}) tensor, got {got}')
        if not lq.is_floating_point():
            raise ValueError(f'PaniniNet expects a floating-point tensor in [-1, 1], got dtype {lq.dtype}')
        if lq.shape[1] != 3:
            raise ValueError(f'PaniniNet expects 3 (RGB) channels, got {lq.shape[1]}')
        if tuple(lq.shape[2:]) != (self.in_size, self.in_size):
            raise ValueError(f'PaniniNet was built for {self.in_size}x{self.in_size} inputs, '
                             f'got {lq.shape[2]}x{lq.shape[3]}')

    def degradation_masks(self, lq, mask_bias=None):
        """Per-channel prior weights (B, 5, C) in (0, 1) from v_DR; None for Cat-Conv.

        ``mask_bias`` (float or (5,) tensor, one per resolution) is added to the
        prior logit before the softmax: positive values favour the GAN prior.
        """
        if self.mask_generator is None:
            if mask_bias is not None:
                raise ValueError("mask_bias needs fusion='dafi'; the Cat-Conv fusion has no masks")
            return None
        v_dr = self.dre(lq) if self.dre is not None else self.learned_dr.expand(lq.shape[0], -1)
        logits = self.mask_generator(v_dr)
        if mask_bias is not None:
            bias = torch.as_tensor(mask_bias, dtype=logits.dtype, device=logits.device)
            if bias.numel() not in (1, len(FUSION_RESOLUTIONS)):
                raise ValueError(f'mask_bias must be a float or have {len(FUSION_RESOLUTIONS)} values, '
                                 f'got shape {tuple(bias.shape)}')
            prior_logit = logits[:, :, 0] + bias.reshape(1, -1, 1)
            logits = torch.stack([prior_logit, logits[:, :, 1]], dim=2)
        return torch.softmax(logits, dim=2)[:, :, 0]

    def encode(self, lq):
        """IFE features [(B, C, r, r) for r = 64, 32, 16, 8, 4] and W+ codes (B, num_latent, num_style_feat)."""
        feats = self.ife(lq)
        return feats, self.lce(feats[-1])

    def synthesize(self, latent, feats, masks, drop=None):
        """Run the GAN prior on W+ codes, fusing ``feats`` at resolutions 4..64; returns (B, 3, out, out)."""
        gen = self.generator
        noises = [getattr(gen.noises, f'noise{i}') for i in range(gen.num_layers)]
        feats_low_to_high = feats[::-1]  # resolutions 4, 8, ..., 64: the generator's order
        out = gen.constant_input(latent.shape[0])
        out = gen.style_conv1(out, latent[:, 0], noise=noises[0])
        skip = gen.to_rgb1(out, latent[:, 1])
        for i, (conv_up, conv, to_rgb) in enumerate(zip(gen.style_convs[::2], gen.style_convs[1::2], gen.to_rgbs)):
            # Block i starts from resolution 4 * 2**i; the first five are fused (positions, not
            # shapes, select the level, so tracing and export see the same graph).
            if i < len(FUSION_RESOLUTIONS):
                mask = masks[:, i] if masks is not None else None
                out = self.fusions[i](out, feats_low_to_high[i], mask, drop)
            out = conv_up(out, latent[:, 2 * i + 1], noise=noises[2 * i + 1])
            out = conv(out, latent[:, 2 * i + 2], noise=noises[2 * i + 2])
            skip = to_rgb(out, latent[:, 2 * i + 3], skip)
        return skip

    def forward(self, lq, return_masks=False, drop=None, mask_bias=None):
        """Restore ``lq`` (B, 3, in_size, in_size) in [-1, 1].

        Args:
            return_masks (bool): also return the masks (B, 5, C) (DAFI only).
            drop (str | None): 'gpb' zeroes the prior term (Y_IFE), 'ife' the
                input term (Y_GPB).
            mask_bias (float | Tensor | None): added to the prior logits (editing).
        """
        self.check_input(lq)
        if drop not in (None, 'gpb', 'ife'):
            raise ValueError(f"drop must be None, 'gpb' or 'ife', got {drop!r}")
        if return_masks and self.mask_generator is None:
            raise ValueError("return_masks needs fusion='dafi'; the Cat-Conv fusion has no masks")
        masks = self.degradation_masks(lq, mask_bias)
        feats, latent = self.encode(lq)
        image = self.synthesize(latent, feats, masks, drop)
        return (image, masks) if return_masks else image


def check_sizes(in_size, out_size):
    """Raise ValueError unless in_size is a power of two >= 64 and out_size a larger power of two."""
    for name, size in (('in_size', in_size), ('out_size', out_size)):
        if not isinstance(size, int) or size < 64 or 2**int(math.log2(size)) != size:
            raise ValueError(f'{name} must be a power of two >= 64, got {size!r}')
    if out_size <= in_size:
        raise ValueError(f'out_size ({out_size}) must be larger than in_size ({in_size})')
